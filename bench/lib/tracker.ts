// What one receiving client saw of a planned workload: for every event, which plan
// item it carried (g) and when it arrived. At the end, with the sender's send times,
// it yields latencies and exactly-once accounting (missing, duplicated items).
import type { Hist, HistJSON } from './hist.ts'

export class Tracker {
  private g: Int32Array
  private t: Float64Array
  n = 0
  /** Events that carried an id but no plan item (should stay 0). */
  foreign = 0
  resets = 0
  /** SSE ids not strictly increasing (a duplicate or a reordering). */
  outOfOrder = 0
  lastId = 0
  minId = Infinity
  idCount = 0

  constructor(capacity: number) {
    this.g = new Int32Array(capacity)
    this.t = new Float64Array(capacity)
  }

  id(id: number): void {
    if (id <= this.lastId) this.outOfOrder++
    this.lastId = id
    if (id < this.minId) this.minId = id
    this.idCount++
  }

  item(g: number, t: number): void {
    if (g < 0) {
      this.foreign++
      return
    }
    if (this.n === this.g.length) {
      const g2 = new Int32Array(this.g.length * 2)
      g2.set(this.g)
      const t2 = new Float64Array(this.t.length * 2)
      t2.set(this.t)
      this.g = g2
      this.t = t2
    }
    this.g[this.n] = g
    this.t[this.n] = t
    this.n++
  }

  /** Items received so far whose webhook index is known. */
  count(): number {
    return this.n
  }

  settle(ctx: SettleContext, hist: Hist, acc: Accounting): void {
    for (let i = 0; i < this.n; i++) if (this.t[i]! > acc.lastMs) acc.lastMs = this.t[i]!
    const seen = new Uint8Array(ctx.webhookOf.length)
    for (let i = 0; i < this.n; i++) {
      const g = this.g[i]!
      if (g >= seen.length) {
        acc.foreign++
        continue
      }
      if (seen[g]! < 255) seen[g]!++
      const k = ctx.webhookOf[g]!
      if (k >= ctx.skipBelow && ctx.acked[k]) hist.record(this.t[i]! - ctx.sendMs[k]!)
    }
    let missing = 0
    let dup = 0
    for (let g = 0; g < seen.length; g++) {
      const k = ctx.webhookOf[g]!
      if (!ctx.acked[k]) continue
      if (seen[g] === 0) missing++
      else if (seen[g]! > 1) dup += seen[g]! - 1
    }
    acc.clients++
    acc.missing += missing
    acc.duplicated += dup
    acc.foreign += this.foreign
    acc.resets += this.resets
    acc.outOfOrder += this.outOfOrder
    if (missing) acc.clientsMissing++
    if (ctx.idRange) {
      // Every id in (from, to] exactly once: strictly increasing and the right count.
      const want = ctx.idRange.to - ctx.idRange.from
      const got = this.idCount
      if (got !== want || this.outOfOrder || (got && this.minId <= ctx.idRange.from) || this.lastId < ctx.idRange.to) acc.idRangeWrong++
    }
  }
}

export interface SettleContext {
  webhookOf: Int32Array
  /** per webhook: ms (CLOCK_MONOTONIC) when it was meant to be sent */
  sendMs: Float64Array
  /** per webhook: 1 if the server answered 200 */
  acked: Uint8Array
  /** webhooks below this index are warm-up: counted for loss, not for latency */
  skipBelow: number
  idRange?: { from: number; to: number }
}

export interface Accounting {
  clients: number
  clientsMissing: number
  missing: number
  duplicated: number
  foreign: number
  resets: number
  outOfOrder: number
  idRangeWrong: number
  /** latest arrival of any event at any client (CLOCK_MONOTONIC ms) */
  lastMs: number
}

export const emptyAccounting = (): Accounting => ({
  clients: 0,
  clientsMissing: 0,
  missing: 0,
  duplicated: 0,
  foreign: 0,
  resets: 0,
  outOfOrder: 0,
  idRangeWrong: 0,
  lastMs: 0,
})

export function mergeAccounting(a: Accounting, b: Accounting): Accounting {
  const out = { ...a }
  for (const k of Object.keys(b) as Array<keyof Accounting>) out[k] += b[k]
  out.lastMs = Math.max(a.lastMs, b.lastMs)
  return out
}

export interface SettleResult {
  hist: HistJSON
  acc: Accounting
}
