// PostgreSQL (issue 17): the worker's answer to a send (markSent) and a status webhook that
// outran it (reconcileStatus, by its callback tag) settle the same outbox row and message in
// two transactions. Read committed let markSent act on what it read before the webhook's
// commit and write the message back to `sent` over the webhook's `failed`. The row is now
// locked before either reads it (OutboxRepo.lockById): the second waits and sees the first.
// The interleaving is forced: a session holds the message row, so the webhook waits there
// (after taking the outbox row) while the worker's answer arrives.
import t from 'tap'
import pg from 'pg'
import { startPair, until } from './helpers/emulator.ts'
import { onPostgres } from './helpers/server.ts'
import { action, contactsCsv, createCampaign, importCsv, play, recipients } from './helpers/campaigns.ts'

t.test(
  'a failure reported by webhook stands when the send’s answer is recorded after it',
  { skip: !onPostgres && 'PostgreSQL only' },
  async (t) => {
    const p = await startPair(t)
    const player = play(p, { failures: { 131026: 1 } })
    p.emu.emulator.setFaults({ holdSends: true, pauseWebhooks: true })
    await importCsv(p, contactsCsv(1))
    const c = await createCampaign(p)
    await action(p, c.id, 'start', {})
    await until(async () => player.tally().messages >= 1, 'the send accepted (its answer held)')
    const url = (p.parley.config.database as { url: string }).url
    const holder = new pg.Client({ connectionString: url })
    const watcher = new pg.Client({ connectionString: url })
    await holder.connect()
    await watcher.connect()
    t.teardown(() => Promise.all([holder.end(), watcher.end()]))
    const lockWaits = async () =>
      Number(
        (
          await watcher.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).rows[0].n,
      )
    await holder.query('BEGIN')
    await holder.query(`SELECT id FROM messages WHERE direction = 'out' FOR UPDATE`)
    p.emu.emulator.setFaults({ pauseWebhooks: false })
    await until(async () => (await lockWaits()) >= 1, 'the failed webhook waits on the message')
    p.emu.emulator.setFaults({ holdSends: false })
    await until(async () => (await lockWaits()) >= 2, 'the send’s answer waits too')
    await holder.query('COMMIT')
    // The worker's call is over once its bookkeeping (markSent) committed.
    await until(async () => p.parley.app.services.sending.worker.inFlightCount === 0 && (await lockWaits()) === 0, 'both committed')
    const [r] = await recipients(p, c.id)
    t.equal(r!.status, 'failed', 'the webhook’s failure stands')
    t.equal(r!.error?.code, 131026)
  },
)
