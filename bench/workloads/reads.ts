// 5. Reads on a big inbox: GET /api/conversations (first page, deep keyset pages) and
// a conversation's messages (newest page, older pages), p50/p99, with the bare-SQLite
// time of the same queries as the baseline. The database is built once and cached.
import path from 'node:path'
import { Child } from '../lib/proc.ts'
import { Hist, type HistJSON } from '../lib/hist.ts'
import { copyDataDir, login, startParley, tempDir } from '../lib/servers.ts'
import { ms, num, ratio, type Section, type Target } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'
import type { ReadSample } from '../lib/reads-db.ts'

export async function reads(ctx: Ctx): Promise<Section> {
  const o = ctx.sizes.reads
  const db = await Child.start({ name: 'reads-db', module: 'lib/reads-db.ts' })
  const children: Child[] = [db]
  const dataDir = tempDir('reads')
  let parley: Awaited<ReturnType<typeof startParley>> | undefined
  try {
    ctx.log(`reads: database of ${num(o.conversations)} conversations / ${num(o.messages)} messages (cached under bench/.work)`)
    const info = await db.call<{ file: string; sample: ReadSample & { seedMs: number }; built: boolean; ms: number }>(
      'ensure',
      { workDir: ctx.workDir, conversations: o.conversations, messages: o.messages },
      20 * 60_000,
    )
    if (info.built) ctx.log(`reads: built in ${(info.ms / 1000).toFixed(0)} s (inserts ${(info.sample.seedMs / 1000).toFixed(0)} s)`)
    // The run works on a copy: the server adds sessions, the cache stays as built.
    const file = copyDataDir(info.file, dataDir)
    parley = await startParley('parley-reads', { dataDir, profileDir: ctx.profileDir && path.join(ctx.profileDir, 'reads') })
    const [token] = await login(parley.url, 1)
    const reader = await Child.start({ name: 'reader', module: 'gen/reader.ts' })
    children.push(reader)

    const rows: string[][] = []
    const targets: Target[] = []
    let worstP99 = 0
    let worstName = ''
    for (const [kind, paths] of Object.entries(info.sample.paths)) {
      // Warm-up: the pages this kind touches, once, and the JIT.
      await reader.call('run', { url: parley.url, token, paths, concurrency: 1, seconds: 0.5 }, 60_000)
      const raw = Hist.from(await db.call<HistJSON>('raw', { file, paths, seconds: Math.min(2, o.seconds) }, 60_000))
      for (const c of o.concurrency) {
        ctx.log(`reads: ${kind} at concurrency ${c}`)
        const r = await reader.call<{ hist: HistJSON; rps: number; errors: number; firstError: string; avgBytes: number }>(
          'run',
          { url: parley.url, token, paths, concurrency: c, seconds: o.seconds },
          (o.seconds + 60) * 1000,
        )
        if (r.errors) throw new Error(`${kind}: ${r.errors} failed requests, first: ${r.firstError}`)
        const h = Hist.from(r.hist)
        if (h.pct(99) > worstP99) {
          worstP99 = h.pct(99)
          worstName = `${kind}, concurrency ${c}`
        }
        rows.push([
          kind,
          String(c),
          num(r.rps),
          `${ms(h.pct(50))} / ${ms(h.pct(99))} / ${ms(h.max)}`,
          `${ms(raw.pct(50))} / ${ms(raw.pct(99))}`,
          ratio(h.pct(50) / raw.pct(50)),
          `${(r.avgBytes / 1024).toFixed(1)} KiB`,
        ])
      }
    }
    targets.push({
      name: `reads at ${num(o.conversations)} conversations / ${num(o.messages)} messages`,
      target: 'p99 ≤ 20 ms',
      value: `worst p99 ${ms(worstP99)} (${worstName})`,
      met: worstP99 <= 20,
    })
    return {
      title: `5. Reads: ${num(o.conversations)} conversations, ${num(o.messages)} messages`,
      head: ['request', 'concurrency', 'req/s', 'p50 / p99 / max', 'bare SQLite query p50 / p99', 'HTTP p50 ÷ query p50', 'response size'],
      rows,
      targets,
      notes: [
        `Built with the real migrations and bootstrap, then direct inserts in one transaction (cached in bench/.work/, keyed by the migrations' hash); no ANALYZE, as a real install has none. The longest conversation has ${num(info.sample.biggestConversation.messages)} messages; conversations get one message each, then the rest with a heavy head (a few long threads, a long tail of short ones).`,
        'Paths cycle over 500 random conversations (and the longest one); deep pages use keyset cursors at random positions. Limit 50 per page. Times are from request to the last byte, in a separate client process over keep-alive.',
      ],
    }
  } finally {
    for (const c of children) await c.stop()
    await parley?.stop()
    const { rmSync } = await import('node:fs')
    rmSync(dataDir, { recursive: true, force: true })
  }
}
