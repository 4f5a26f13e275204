// The channel directory's snapshot across processes (issue 17): webhook secrets, verify tokens
// and auto-assign flags are answered from memory, loaded at start and reloaded whenever the
// event log hands over a committed `channel.changed` — emitted by the change's own unit. On
// both databases a change through the domain's unit is answered at once; on PostgreSQL a
// secret rotated through one process is answered by another once that process's tailer has
// published the event, and the old secret is refused there.
import t from 'tap'
import type { Config } from '../src/config.ts'
import { signPayload, verifyWithAny } from '../src/channels/meta-signature.ts'
import { CHANNEL_CHANGED, ChannelDirectory, type ChannelChanges } from '../src/domain/channels/channels.ts'
import type { EventLog } from '../src/events/event-log.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { type DialectDb, onBoth } from './helpers/dialects.ts'
import { until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const WS = 1
const box = new SecretBox(SecretBox.keyFrom('b'.repeat(64))!)
const config = { metaAppSecret: 'app-secret', metaVerifyToken: 'app-verify' } as unknown as Config
const body = Buffer.from('{"object":"whatsapp_business_account","entry":[]}')

/** Which webhook secret a request signed with `secret` is accepted under, or null (refused). */
const accepted = (dir: ChannelDirectory, secret: string) =>
  verifyWithAny(dir.appSecrets('whatsapp'), body, signPayload(secret, body)) ?? null

/** The app's wiring: SQLite, the log's commits; PostgreSQL, what the process's tailer publishes. */
function changesOf(db: DialectDb): ChannelChanges {
  if (db.log instanceof PgEventLog) {
    const log = db.log
    return (listener) => log.onPublished(listener)
  }
  const log = db.group as EventLog
  return (listener) => log.onCommitted(listener)
}

t.test('the directory answers from its snapshot and follows every change from the log, on both databases', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const errors: unknown[] = []
    const dir = new ChannelDirectory({
      repo: new ChannelsRepo(box),
      config,
      units: db.runner,
      changes: changesOf(db),
      onError: (err) => errors.push(err),
    })
    t.teardown(() => dir.stop())
    const out: Record<string, unknown> = {}
    // Nothing answers from the database on the hot path: a fresh directory knows the app's secret only.
    out.beforeLoad = dir.appSecrets('whatsapp')
    await dir.load()
    out.loaded = { secrets: dir.appSecrets('whatsapp'), tokens: dir.verifyTokens('whatsapp') }

    const seen = (pred: () => boolean, what: string) =>
      until(async () => {
        await dir.settled()
        return pred()
      }, what)
    const ch = await db.log.transact((batch) =>
      dir.createUnit(WS, { kind: 'whatsapp', externalId: '5001', name: 'Sales', appSecret: 'sec-1', verifyToken: 'tok-1' }, batch),
    )
    if (db.runner.dialect === 'sqlite') {
      // One process: the commit's own listener starts the reload; it is done when settled.
      await dir.settled()
      out.createdAtOnce = dir.appSecrets('whatsapp').includes('sec-1')
    }
    await seen(() => dir.appSecrets('whatsapp').includes('sec-1'), 'the new channel’s secret')
    out.created = {
      secrets: dir.appSecrets('whatsapp'),
      tokens: dir.verifyTokens('whatsapp'),
      messenger: dir.appSecrets('messenger'),
      signedNew: accepted(dir, 'sec-1'),
    }

    // The secret rotated through the domain's unit (the PATCH route's).
    await db.log.transact((batch) => dir.updateUnit(WS, ch.id, { appSecret: 'sec-2', verifyToken: 'tok-2' }, batch))
    await seen(() => dir.appSecrets('whatsapp').includes('sec-2'), 'the rotated secret')
    out.rotated = {
      secrets: dir.appSecrets('whatsapp'),
      tokens: dir.verifyTokens('whatsapp'),
      signedNew: accepted(dir, 'sec-2'),
      signedOld: accepted(dir, 'sec-1'),
    }

    // Auto-assign and enabled are followed too.
    await db.log.transact((batch) => dir.updateUnit(WS, ch.id, { autoAssign: true }, batch))
    await seen(() => dir.autoAssigns(ch.id), 'auto-assign on')
    out.autoAssigns = [dir.autoAssigns(ch.id), dir.autoAssigns(ch.id + 1000)]
    await db.log.transact((batch) => dir.updateUnit(WS, ch.id, { enabled: false }, batch))
    await seen(() => !dir.appSecrets('whatsapp').includes('sec-2'), 'disabled: its secret is gone')
    out.disabled = { secrets: dir.appSecrets('whatsapp'), tokens: dir.verifyTokens('whatsapp'), signedNew: accepted(dir, 'sec-2') }

    // An empty patch changes nothing and says nothing.
    const before = db.published.length
    await db.log.transact((batch) => dir.updateUnit(WS, ch.id, {}, batch))
    out.emptyPatchEvents = db.published.length - before
    // Each change's event: internal, addressed to nobody (no stream, replay or outgoing webhook).
    out.events = db.published.map((e) => ({ type: e.type, data: JSON.parse(e.data), channelId: e.channelId, userId: e.userId }))
    out.errors = errors.length
    return out
  })

  const o = sqlite as Record<string, unknown>
  t.same(o.beforeLoad, ['app-secret'], 'before the load: the app’s secret alone')
  t.same(o.loaded, { secrets: ['app-secret'], tokens: ['app-verify'] })
  t.equal(o.createdAtOnce, true, 'SQLite: answered as soon as the commit’s reload settled')
  t.same(o.created, {
    secrets: ['app-secret', 'sec-1'],
    tokens: ['app-verify', 'tok-1'],
    messenger: ['app-secret'],
    signedNew: 'sec-1',
  })
  t.same(o.rotated, {
    secrets: ['app-secret', 'sec-2'],
    tokens: ['app-verify', 'tok-2'],
    signedNew: 'sec-2',
    signedOld: null,
  })
  t.same(o.autoAssigns, [true, false])
  t.same(o.disabled, { secrets: ['app-secret'], tokens: ['app-verify'], signedNew: null })
  t.equal(o.emptyPatchEvents, 0)
  const id = (o.events as { data: { channelId: number } }[])[0]!.data.channelId
  t.same(
    o.events,
    Array.from({ length: 4 }, () => ({ type: CHANNEL_CHANGED, data: { channelId: id }, channelId: null, userId: 0 })),
    'one channel.changed per change, for nobody',
  )
  t.equal(o.errors, 0)
  if (!pg) {
    t.comment('no PostgreSQL server (PARLEY_TEST_PG_URL): SQLite only')
    return
  }
  const { createdAtOnce: _c, ...sqliteRest } = o
  t.same(pg, sqliteRest, 'PostgreSQL answers as SQLite does')
})

t.test('PostgreSQL: a secret rotated through process A is answered by process B once B’s tailer published it', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'directory-test')
  // Two "processes": each its own pool, event log (tailer, listening connection) and directory.
  const proc = async (name: string) => {
    const pool = openPgPool(url, { nodeId: name, max: 4 })
    const log = new PgEventLog(pool, { url, nodeId: name, pollMs: 1000, clock: { now: Date.now }, onError: () => {} })
    const errors: unknown[] = []
    const dir = new ChannelDirectory({
      repo: new ChannelsRepo(box),
      config,
      units: new PgRunner(pool),
      // As the app wires PostgreSQL: its own commits at once, and everything its tailer publishes.
      changes: (listener) => {
        log.onCommitted(listener)
        log.onPublished(listener)
      },
      onError: (err) => errors.push(err),
    })
    const committed: { id: number; type: string }[] = []
    log.onCommitted((events) => committed.push(...events))
    await log.start()
    t.teardown(async () => {
      dir.stop()
      await log.stop()
      await pool.end()
    })
    return { pool, log, dir, errors, committed }
  }
  const a = await proc('directory-a')
  await a.pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
  const ch = await a.log.transact((batch) =>
    a.dir.createUnit(WS, { kind: 'whatsapp', externalId: '6001', name: 'Sales', appSecret: 'old-secret' }, batch),
  )
  const b = await proc('directory-b')
  await b.dir.load()
  t.equal(accepted(b.dir, 'old-secret'), 'old-secret', 'B loaded the channel’s secret at start')

  // Rotated through A: A answers at once (its own commit), B once its tailer reaches the event.
  await a.log.transact((batch) => a.dir.updateUnit(WS, ch.id, { appSecret: 'new-secret' }, batch))
  await a.dir.settled()
  t.equal(accepted(a.dir, 'new-secret'), 'new-secret', 'A answers the new secret when its write returns')
  const eventId = a.committed.filter((e) => e.type === CHANNEL_CHANGED).at(-1)!.id
  // B's tailer publishes it (woken by A's NOTIFY hint, else its 1 s timer): no fixed sleep, a deadline.
  await until(async () => b.log.head >= eventId, 'B’s tailer published the rotation', 10_000)
  await b.dir.settled()
  t.equal(accepted(b.dir, 'new-secret'), 'new-secret', 'B answers the new secret')
  t.equal(accepted(b.dir, 'old-secret'), null, 'B refuses the old one')
  t.same(b.dir.appSecrets('whatsapp'), ['app-secret', 'new-secret'])

  // A burst of rotations through A while B reloads: B ends on what the database holds (a change
  // arriving during a reload queues one more; the reloads are coalesced, not one per event).
  const reloadsBefore = b.dir.reloads
  await Promise.all(
    Array.from({ length: 10 }, (_, i) => a.log.transact((batch) => a.dir.updateUnit(WS, ch.id, { appSecret: `burst-${i}` }, batch))),
  )
  const last = a.committed.filter((e) => e.type === CHANNEL_CHANGED).at(-1)!.id
  await until(async () => b.log.head >= last, 'B’s tailer published the burst', 10_000)
  await b.dir.settled()
  const saved = await new PgRunner(b.pool).read(() => b.dir.secretsUnit('whatsapp'))
  t.same(b.dir.appSecrets('whatsapp'), saved.secrets, 'B answers what the database holds after the burst')
  t.equal(saved.secrets.length, 2)
  t.ok(b.dir.reloads - reloadsBefore <= 10, `B reloaded ${b.dir.reloads - reloadsBefore} times for 10 changes`)
  t.same([a.errors.length, b.errors.length], [0, 0])
})
