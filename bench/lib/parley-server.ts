// Child entry: the real Parley (config → openDatabase → buildApp) on a temp DATA_DIR,
// listening on loopback. The harness adds only observation: RSS after a GC, and the
// time the hub spends in publish() (wrapped on the instance; src/ is untouched).
import { loadConfig } from '../../src/config.ts'
import { openDatabase } from '../../src/store/db.ts'
import { buildApp } from '../../src/app.ts'
import { serve } from './proc.ts'
import { nowMs } from './hist.ts'
import { seedOutbound } from './parley-seed.ts'

interface PublishSample {
  startMs: number
  /** the synchronous loop over the connections */
  durMs: number
  /** until the bytes are handed to the kernel: Node corks each response during the
   * loop and writes it out in a nextTick, so a tick queued after the loop runs last */
  flushMs: number
  events: number
  conns: number
}

async function main() {
  const config = loadConfig(process.env)
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: config.dbBusyTimeoutMs })
  // The production logger (LOG_LEVEL, request log included), as `npm start` runs it;
  // the orchestrator sends this child's stdout to /dev/null.
  const app = await buildApp({ config, db })
  const hub = app.services.hub

  let recording = false
  const samples: PublishSample[] = []
  const publish = hub.publish.bind(hub)
  hub.publish = (events) => {
    if (!recording) return publish(events)
    const conns = hub.size
    const t0 = nowMs()
    publish(events)
    const sample = { startMs: t0, durMs: nowMs() - t0, flushMs: NaN, events: events.length, conns }
    samples.push(sample)
    process.nextTick(() => (sample.flushMs = nowMs() - t0))
  }

  const rpc = serve(
    {
      mem: () => {
        globalThis.gc?.()
        globalThis.gc?.()
        const m = process.memoryUsage()
        return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, streams: hub.size }
      },
      record: (a: { on: boolean }) => {
        recording = a.on
        samples.length = 0
        return true
      },
      samples: () => samples.splice(0),
      streams: () => hub.size,
      seedOutbound: (a: { targets: Array<{ wamid: string; to: string }> }) => seedOutbound(db.$client, a.targets),
      head: () => ({ head: app.services.events.head, cursor: app.services.events.cursor() }),
    },
    async () => {
      await app.close()
      db.$client.close()
    },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('no address')
  rpc.ready({ port: addr.port, pid: process.pid })
}

main().catch((err) => {
  process.send?.({ type: 'failed', error: err instanceof Error ? err.stack : String(err) })
  process.exit(1)
})
