// A mergeable latency histogram in milliseconds. 10 µs buckets up to 100 ms (the
// range the targets live in), then 1 ms buckets up to 100 s. Children send it to the
// orchestrator as sparse [bucket, count] pairs, so millions of samples cross IPC cheaply.
const FINE_STEP = 0.01
const FINE_BUCKETS = 10_000 // 0 … 100 ms
const COARSE_BUCKETS = 100_000 // 100 ms … 100 s
const TOTAL = FINE_BUCKETS + COARSE_BUCKETS

export type HistJSON = { n: number; max: number; min: number; sum: number; b: Array<[number, number]> }

export class Hist {
  private readonly counts = new Uint32Array(TOTAL + 1)
  n = 0
  max = 0
  min = Infinity
  sum = 0

  record(ms: number): void {
    if (!(ms >= 0)) ms = 0
    let i: number
    if (ms < FINE_BUCKETS * FINE_STEP) i = Math.floor(ms / FINE_STEP)
    else i = Math.min(TOTAL, FINE_BUCKETS + Math.floor(ms - FINE_BUCKETS * FINE_STEP))
    this.counts[i]!++
    this.n++
    this.sum += ms
    if (ms > this.max) this.max = ms
    if (ms < this.min) this.min = ms
  }

  reset(): void {
    this.counts.fill(0)
    this.n = 0
    this.max = 0
    this.min = Infinity
    this.sum = 0
  }

  /** Upper edge of the bucket holding the p-th percentile (p in 0…100). */
  pct(p: number): number {
    if (this.n === 0) return NaN
    const rank = Math.max(1, Math.ceil((p / 100) * this.n))
    let seen = 0
    for (let i = 0; i <= TOTAL; i++) {
      seen += this.counts[i]!
      if (seen >= rank) {
        const upper = i < FINE_BUCKETS ? (i + 1) * FINE_STEP : FINE_BUCKETS * FINE_STEP + (i - FINE_BUCKETS + 1)
        return Math.min(upper, this.max)
      }
    }
    return this.max
  }

  get mean(): number {
    return this.n ? this.sum / this.n : NaN
  }

  merge(other: Hist | HistJSON): this {
    const o = other instanceof Hist ? other.toJSON() : other
    for (const [i, c] of o.b) this.counts[i] = this.counts[i]! + c
    this.n += o.n
    this.sum += o.sum
    if (o.max > this.max) this.max = o.max
    if (o.min < this.min) this.min = o.min
    return this
  }

  toJSON(): HistJSON {
    const b: Array<[number, number]> = []
    for (let i = 0; i <= TOTAL; i++) if (this.counts[i]) b.push([i, this.counts[i]!])
    return { n: this.n, max: this.max, min: this.n ? this.min : 0, sum: this.sum, b }
  }

  static from(json: HistJSON): Hist {
    return new Hist().merge(json)
  }
}

/** Milliseconds on CLOCK_MONOTONIC, which every process on this machine shares: a
 * timestamp taken in the sender can be subtracted from one taken in a receiver. */
export function nowMs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}
