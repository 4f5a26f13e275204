// Sections of the report: a table, the targets with met/missed, and notes. Rendered
// as markdown for bench/RESULTS.md and printed to the console.
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import type { Hist } from './hist.ts'
import { nofileLimits } from './proc.ts'

export interface Target {
  name: string
  target: string
  value: string
  /** null: not measurable in this run (e.g. a workload failed) */
  met: boolean | null
}

export interface Section {
  title: string
  head: string[]
  rows: string[][]
  targets: Target[]
  notes: string[]
}

export const ms = (x: number) =>
  !Number.isFinite(x) ? '–' : x < 1 ? `${x.toFixed(2)} ms` : x < 100 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`
export const num = (x: number) => (!Number.isFinite(x) ? '–' : Math.round(x).toLocaleString('en-US'))
export const ratio = (x: number) => (!Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`)
export const kb = (bytes: number) => (!Number.isFinite(bytes) ? '–' : `${(bytes / 1024).toFixed(1)} KiB`)
export const pcts = (h: Hist) => (h.n === 0 ? '– (nothing timed)' : `${ms(h.pct(50))} / ${ms(h.pct(99))} / ${ms(h.max)}`)
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN
}

export function renderSection(s: Section): string {
  const lines = [`### ${s.title}`, '']
  if (s.rows.length) {
    lines.push(`| ${s.head.join(' | ')} |`, `|${s.head.map(() => '---').join('|')}|`)
    for (const r of s.rows) lines.push(`| ${r.join(' | ')} |`)
    lines.push('')
  }
  for (const t of s.targets) {
    const mark = t.met === null ? '❔ not measured' : t.met ? '✅ met' : '❌ missed'
    lines.push(`- **Target** ${t.name}: ${t.target} — measured **${t.value}** → ${mark}`)
  }
  if (s.targets.length) lines.push('')
  for (const n of s.notes) lines.push(`- ${n}`)
  if (s.notes.length) lines.push('')
  return lines.join('\n')
}

export function machine(): string[] {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  const sh = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: 'utf8' }).trim()
    } catch {
      return '?'
    }
  }
  const lim = nofileLimits()
  return [
    `nproc: ${sh('nproc')}; CPU: ${cpu}`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()}`,
    `Node ${process.version}; better-sqlite3 WAL + synchronous=FULL on ${sh(`df -T ${os.tmpdir()} | tail -1 | awk '{print $1" ("$2")"}'`)}`,
    `ulimit -n: soft ${lim.soft}, hard ${lim.hard}; load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; ${cpuPressure()}`,
  ]
}

/** How contended the CPUs were (Linux PSI): the share of time some task waited for a CPU. */
export function cpuPressure(): string {
  try {
    const some = /some avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return some ? `CPU pressure (tasks waiting for a CPU) ${some[2]}% over the last minute, ${some[3]}% over five` : ''
  } catch {
    return ''
  }
}
