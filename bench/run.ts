// `npm run bench [-- --quick] [-- --only=ingest,delivery,fanout,replay,reads,peer,campaign,audience,presence,history,pglog,cluster,ownership-rate] [-- --profile]`
// `[-- --campaign-full]`: the campaign workload at the issue's 10,000 recipients (else 1,000).
// `[-- --ownership-rate=N]`: the ownership-rate workload's per-number rate (else 80/s).
//
// Runs each workload with its baselines side by side, prints the tables and writes
// bench/RESULTS.md (a partial or profiled run writes bench/.work/RESULTS.partial.md
// instead). Every server and load generator is a child process on loopback; each
// call to a child has a deadline and a watchdog ends the whole run if it overstays.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BENCH_DIR, killAllChildren } from './lib/proc.ts'
import { sizes, type Ctx } from './lib/context.ts'
import { cpuPressure, machine, renderSection, type Section } from './lib/report.ts'
import { formatSummary, summarize } from './lib/cpuprofile.ts'
import { ingest } from './workloads/ingest.ts'
import { delivery } from './workloads/delivery.ts'
import { fanout } from './workloads/fanout.ts'
import { replay } from './workloads/replay.ts'
import { reads } from './workloads/reads.ts'
import { peer } from './workloads/peer.ts'
import { campaign } from './campaign.ts'
import { audience } from './workloads/audience.ts'
import { presence } from './workloads/presence.ts'
import { history } from './workloads/history.ts'
import { pglog } from './workloads/pglog.ts'
import { cluster } from './workloads/cluster.ts'
import { ownershipRate } from './workloads/ownership-rate.ts'

const WORKLOADS: Record<string, (ctx: Ctx) => Promise<Section | Section[]>> = {
  ingest,
  delivery,
  fanout,
  replay,
  reads,
  peer,
  campaign,
  audience,
  presence,
  history,
  pglog,
  cluster,
  'ownership-rate': ownershipRate,
}

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const profile = args.includes('--profile')
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
for (const name of only ?? []) if (!WORKLOADS[name]) throw new Error(`unknown workload ${name}; have ${Object.keys(WORKLOADS).join(', ')}`)
const selected = Object.keys(WORKLOADS).filter((w) => !only || only.includes(w))

const workDir = path.join(BENCH_DIR, '.work')
mkdirSync(workDir, { recursive: true })
const started = Date.now()
const log = (msg: string) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`)

// The default run takes about half an hour on 2 vCPUs since issue 17's three workloads (pglog,
// cluster, ownership-rate: real processes on PostgreSQL); this bounds a run that hangs.
const WATCHDOG_MS = (quick ? 10 : 50) * 60_000
const watchdog = setTimeout(() => {
  log(`watchdog: the run passed ${WATCHDOG_MS / 60_000} min; stopping every child`)
  killAllChildren()
  process.exit(2)
}, WATCHDOG_MS)
watchdog.unref()
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    killAllChildren()
    process.exit(130)
  })

const ctx: Ctx = {
  quick,
  sizes: sizes(quick),
  workDir,
  profileDir: profile ? path.join(workDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined,
  log,
}

const sections: Section[] = []
const failures: string[] = []
const machineLines = machine()
for (const name of selected) {
  log(`— ${name} —`)
  try {
    const out = await WORKLOADS[name]!(ctx)
    for (const s of Array.isArray(out) ? out : [out]) {
      sections.push(s)
      console.log('\n' + renderSection(s))
    }
  } catch (err) {
    failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`)
    log(`${name} failed: ${err instanceof Error ? err.stack : String(err)}`)
    killAllChildren()
  }
}
const elapsed = (Date.now() - started) / 1000

const targets = sections.flatMap((s) => s.targets)
const summary = [
  '| target | measured | |',
  '|---|---|---|',
  ...targets.map((t) => `| ${t.name}: ${t.target} | ${t.value} | ${t.met === null ? '❔' : t.met ? '✅ met' : '❌ missed'} |`),
]
const FINDINGS_START = '<!-- findings:start -->'
const FINDINGS_END = '<!-- findings:end -->'
const resultsFile = path.join(BENCH_DIR, 'RESULTS.md')
// Only a complete default run replaces the committed results.
const complete = !quick && !only && !profile && failures.length === 0
const out = complete ? resultsFile : path.join(workDir, quick && !only ? 'RESULTS.quick.md' : 'RESULTS.partial.md')
// The hand-written findings (profiles, proposed changes) survive regeneration.
let findings = `${FINDINGS_START}\n## Findings and proposed changes\n\n(none yet)\n${FINDINGS_END}`
if (existsSync(resultsFile)) {
  const old = readFileSync(resultsFile, 'utf8')
  const a = old.indexOf(FINDINGS_START)
  const b = old.indexOf(FINDINGS_END)
  if (a >= 0 && b > a) findings = old.slice(a, b + FINDINGS_END.length)
}
const md = [
  '# Parley benchmark results',
  '',
  `Generated by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString()} in ${elapsed.toFixed(0)} s${quick ? ' (quick mode: reduced sizes, not the targets’ sizes)' : ''}.`,
  '',
  '## Machine',
  '',
  ...machineLines.map((l) => `- ${l}`),
  `- load average at end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; ${cpuPressure()}`,
  '- Everything runs on this one machine over loopback: the servers, the load generators and the receiving clients share its cores, and other work (other helpers’ test runs) may have been running at the same time. Figures are one run’s, not best-of.',
  '',
  '## Targets',
  '',
  ...summary,
  '',
  ...(failures.length ? ['## Failed workloads', '', ...failures.map((f) => `- ${f}`), ''] : []),
  '## Workloads',
  '',
  ...sections.map(renderSection),
  findings,
  '',
].join('\n')
writeFileSync(out, md)
if (ctx.profileDir && existsSync(ctx.profileDir)) {
  // One summary per profile, beside it: the main thread's is the large one.
  for (const dir of readdirSync(ctx.profileDir)) {
    const full = path.join(ctx.profileDir, dir)
    const files = readdirSync(full).filter((f) => f.endsWith('.cpuprofile'))
    const text = files.map((f) => `== ${f}\n${formatSummary(summarize(path.join(full, f), 30))}`).join('\n\n')
    writeFileSync(path.join(full, 'summary.txt'), text)
  }
  log(`profiles and summaries in ${path.relative(process.cwd(), ctx.profileDir)}`)
}
console.log(`\n${targets.map((t) => `${t.met === null ? '❔' : t.met ? '✅' : '❌'} ${t.name}: ${t.value}`).join('\n')}`)
log(`wrote ${path.relative(process.cwd(), out)} (${elapsed.toFixed(0)} s)`)
killAllChildren()
process.exit(failures.length ? 1 : 0)
