// Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints where the time went:
// self time per function, total (inclusive) time per function, and self time per
// package/file. Usage: node --import tsx bench/lib/cpuprofile.ts <file> [top]
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: Node[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  totalMs: number
  self: Array<[string, number]>
  total: Array<[string, number]>
  byFile: Array<[string, number]>
}

const short = (url: string) => {
  if (!url) return '(native)'
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length)
  const src = u.indexOf('/src/')
  if (src >= 0) return u.slice(src + 1)
  return path.basename(u)
}

export function summarize(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // Time per sample from timeDeltas (µs); attribute each sample to its node.
  const selfUs = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt)
  }
  const key = (n: Node) =>
    `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const byFile = new Map<string, number>()
  let all = 0
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!
    all += us
    self.set(key(n), (self.get(key(n)) ?? 0) + us)
    const f = n.callFrame.url ? short(n.callFrame.url).replace(/:\d+$/, '') : n.callFrame.functionName
    byFile.set(f, (byFile.get(f) ?? 0) + us)
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!)
      if (seen.has(k)) continue
      seen.add(k)
      total.set(k, (total.get(k) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, v / 1000] as [string, number])
  return { totalMs: all / 1000, self: sorted(self), total: sorted(total), byFile: sorted(byFile) }
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (v: number) => `${((100 * v) / s.totalMs).toFixed(1).padStart(5)}%`
  const block = (title: string, rows: Array<[string, number]>) =>
    [`${title}`, ...rows.map(([k, v]) => `  ${pct(v)} ${v.toFixed(0).padStart(7)} ms  ${k}`)].join('\n')
  return [
    `sampled ${s.totalMs.toFixed(0)} ms`,
    block('self time by function:', s.self),
    block('inclusive time by function:', s.total),
    block('self time by file:', s.byFile),
  ].join('\n\n')
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]
  if (!file) {
    console.error('usage: cpuprofile.ts <file.cpuprofile> [top]')
    process.exit(1)
  }
  console.log(formatSummary(summarize(file, Number(process.argv[3] ?? 25))))
}
