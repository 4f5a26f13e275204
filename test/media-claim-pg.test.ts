// Inbound media downloads with several Parley processes on one PostgreSQL database (issue 17):
// two MediaService instances, each with its own pool and event log (two "processes"), fetch
// from Parley's Graph emulator into one shared MEDIA_DIR. Each file is downloaded once in
// total (the emulator's media GETs are counted), every row is stored once with one file on
// disk and its message gets one `message.updated`. A claim left by a process that died is
// fetched by the other once its lease ends; a process whose lease ran out mid-download and
// lost the store to another keeps no file and emits nothing.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { GraphHttp } from '../src/channels/graph-http.ts'
import { ChannelProviders } from '../src/channels/index.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import { MediaService } from '../src/domain/media/media.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { MediaRepo, type MediaRow } from '../src/store/media.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { all, get } from '../src/store/unit.ts'
import { GRAPH_TOKEN, startEmulator, until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { PHONE_NUMBER_ID } from './helpers/server.ts'

const WS = 1
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

/** The emulator, with a count of the downloads it served (GET of a short-lived media URL). */
async function emulatorCountingDownloads(t: Test) {
  const emu = await startEmulator(t)
  const downloads: string[] = []
  emu.app.server.on('request', (req: http.IncomingMessage) => {
    const m = /\/media\/([^/?]+)\?ext=/.exec(req.url ?? '')
    if (req.method === 'GET' && m) downloads.push(decodeURIComponent(m[1]!))
  })
  return { emu, downloads }
}

/**
 * One process's way to the emulator: a loopback proxy that holds media downloads while the
 * gate is shut (so downloads overlap as they would with real files), and counts them.
 */
async function gatedProxy(t: Test, target: string, gate: { open: boolean; waiters: (() => void)[] }) {
  const to = new URL(target)
  const held: string[] = []
  const downloads: string[] = []
  const server = http.createServer(async (req, res) => {
    const m = /\/media\/([^/?]+)\?ext=/.exec(req.url ?? '')
    if (req.method === 'GET' && m) {
      downloads.push(decodeURIComponent(m[1]!))
      if (!gate.open) {
        held.push(decodeURIComponent(m[1]!))
        await new Promise<void>((r) => gate.waiters.push(r))
      }
    }
    const out = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, held, downloads }
}

function gate() {
  const g = { open: false, waiters: [] as (() => void)[] }
  return {
    g,
    release() {
      g.open = true
      for (const w of g.waiters.splice(0)) w()
    },
  }
}

/** One database, migrated, with a WhatsApp number (the emulator's token), a contact and a conversation. */
async function database(t: Test) {
  const url = await freshPgDatabase(t)
  if (!url) return undefined
  await migratePg(url, 'media-claim-test')
  const pool = openPgPool(url, { nodeId: 'media-claim-test', max: 4 })
  t.teardown(() => pool.end())
  const runner = new PgRunner(pool)
  const id = async (sql: string, params: unknown[]) => (await runner.transact(() => get<{ id: number }>(`${sql} RETURNING id`, params)))!.id
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
  const channel = await id(
    `INSERT INTO channels (workspace_id, kind, external_id, name, access_token) VALUES (?, 'whatsapp', ?, 'Main', ?)`,
    [WS, PHONE_NUMBER_ID, GRAPH_TOKEN],
  )
  const contact = await id(
    `INSERT INTO contacts (workspace_id, kind, external_id, name, phone) VALUES (?, 'whatsapp', '551', 'Maria', '+551')`,
    [WS],
  )
  const conversation = await id('INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, 1)', [
    WS,
    channel,
    contact,
  ])
  const repo = new MediaRepo()
  /** An inbound image the customer sent (in the emulator) and its pending download, due now. */
  const inboundImage = async (providerMediaId: string) => {
    const media = { id: providerMediaId, mimeType: 'image/png' }
    const message = await id(
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, "timestamp", created_at, updated_at, media)
       VALUES (?, ?, ?, 'in', 'image', 'received', 10, 10, 10, ?)`,
      [WS, conversation, channel, JSON.stringify(media)],
    )
    await runner.transact(() =>
      repo.insertMedia({
        workspaceId: WS,
        channelId: channel,
        messageId: message,
        direction: 'in',
        providerMediaId,
        state: 'pending',
        mimeType: 'image/png',
        nextAttemptAt: 0,
        createdAt: 1,
        updatedAt: 1,
      }),
    )
    return message
  }
  const rows = () => runner.read(() => all<MediaRow>('SELECT id, state, path, message_id AS "messageId" FROM media ORDER BY id'))
  const updates = () => runner.read(() => all<{ payload: string }>(`SELECT payload FROM events WHERE type = 'message.updated' ORDER BY id`))
  return { url, runner, repo, inboundImage, rows, updates }
}

/** One "process": its own pool, event log and media fetcher, on the shared database and MEDIA_DIR. */
async function mediaProcess(t: Test, url: string, nodeId: string, mediaDir: string, graphUrl: string) {
  const pool = openPgPool(url, { nodeId, max: 4 })
  const log = new PgEventLog(pool, { url, nodeId, pollMs: 50, clock: { now: Date.now }, onError: () => {} })
  await log.start()
  const repos = inboxRepos()
  const media = new MediaService({
    store: { channels: new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7))), messages: repos.messages },
    writer: new InboxWriter(repos, Date.now),
    unitLog: log,
    units: new PgRunner(pool),
    providers: new ChannelProviders(new GraphHttp({ baseUrl: () => graphUrl, timeoutMs: 5000 })),
    mediaDir,
    maxBytes: 1024 * 1024,
    uploadMaxBytes: 1024 * 1024,
    now: Date.now,
    log: pino({ level: 'silent' }),
  })
  t.teardown(async () => {
    await media.stop(1000)
    await log.stop()
    await pool.end()
  })
  return media
}

function sharedMediaDir(t: Test) {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-media-claim-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const mediaDir = path.join(dir, 'media')
  return { mediaDir, files: () => (existsSync(mediaDir) ? readdirSync(mediaDir) : []) }
}

const messageIdsOf = (updates: { payload: string }[]) =>
  updates.map((u) => (JSON.parse(u.payload) as { message: { id: number } }).message.id)

t.test('two processes: every inbound file downloaded once in total, stored once, one file, one update', async (t) => {
  const db = await database(t)
  if (!db) return
  const { emu, downloads } = await emulatorCountingDownloads(t)
  const { mediaDir, files } = sharedMediaDir(t)
  const N = 9
  const messages: number[] = []
  for (let i = 0; i < N; i++) {
    const sim = emu.emulator.storeMedia({ bytes: Buffer.concat([PNG, Buffer.from([i])]), mimeType: 'image/png', filename: null })
    messages.push(await db.inboundImage(sim.id))
  }
  // Each process's downloads are held until both have as many in flight as they may (three
  // each): without a claim both would be fetching the same rows now.
  const { g, release } = gate()
  const toA = await gatedProxy(t, emu.url, g)
  const toB = await gatedProxy(t, emu.url, g)
  const graphPath = new URL(emu.graphUrl).pathname
  const a = await mediaProcess(t, db.url, 'node-a', mediaDir, toA.url + graphPath)
  const b = await mediaProcess(t, db.url, 'node-b', mediaDir, toB.url + graphPath)
  a.start()
  b.start()
  try {
    await until(async () => toA.held.length === 3 && toB.held.length === 3, 'both processes fetching three files each')
  } finally {
    release()
  }
  t.equal(new Set([...toA.held, ...toB.held]).size, 6, 'six different files in flight: no row claimed by both')
  const rows = await until(async () => {
    const r = await db.rows()
    return r.every((row) => row.state === 'stored') ? r : undefined
  }, 'every download stored')
  t.equal(downloads.length, N, 'each file downloaded once in total')
  t.equal(toA.downloads.length + toB.downloads.length, N, 'all through the two processes')
  t.equal(new Set(downloads).size, N, 'every file downloaded')
  const paths = rows.map((r) => r.path)
  t.equal(new Set(paths).size, N, 'every row names its own file')
  t.same(files().sort(), [...paths].sort(), 'exactly those files in MEDIA_DIR, nothing left over')
  const updates = await until(async () => {
    const u = await db.updates()
    return u.length >= N ? u : undefined
  }, 'the messages updated')
  t.same(
    messageIdsOf(updates).sort((x, y) => x - y),
    messages,
    'one message.updated per message',
  )
})

t.test('a claim left by a process that died is fetched by the other once its lease ends', async (t) => {
  const db = await database(t)
  if (!db) return
  const { emu, downloads } = await emulatorCountingDownloads(t)
  const { mediaDir, files } = sharedMediaDir(t)
  const sim = emu.emulator.storeMedia({ bytes: PNG, mimeType: 'image/png', filename: null })
  const message = await db.inboundImage(sim.id)
  // The dead process claimed the row (a short lease) and never fetched it.
  const claimed = await db.runner.transact(() => db.repo.claimDueInbound(Date.now(), 10, 400))
  t.equal(claimed.length, 1, 'claimed by the process that dies')
  const b = await mediaProcess(t, db.url, 'node-b', mediaDir, emu.graphUrl)
  b.start()
  const [row] = await until(async () => {
    const r = await db.rows()
    return r[0]?.state === 'stored' ? r : undefined
  }, 'the download stored by the other process')
  t.same(downloads, [sim.id], 'downloaded once, by the survivor')
  t.same(files(), [row!.path], 'one file')
  const updates = await until(async () => {
    const u = await db.updates()
    return u.length > 0 ? u : undefined
  }, 'the message updated')
  t.same(messageIdsOf(updates), [message])
})

t.test('a process whose lease ran out mid-download loses the store: it keeps no file and emits nothing', async (t) => {
  const db = await database(t)
  if (!db) return
  const { emu, downloads } = await emulatorCountingDownloads(t)
  const { mediaDir, files } = sharedMediaDir(t)
  const sim = emu.emulator.storeMedia({ bytes: PNG, mimeType: 'image/png', filename: null })
  const message = await db.inboundImage(sim.id)
  const { g, release } = gate()
  const toA = await gatedProxy(t, emu.url, g)
  const a = await mediaProcess(t, db.url, 'node-a', mediaDir, toA.url + new URL(emu.graphUrl).pathname)
  a.start()
  await until(async () => toA.held.length === 1, "A's download in flight")
  // A's lease runs out (set here by SQL) while it still downloads; B claims and stores the file.
  await db.runner.transact(() => get('UPDATE media SET next_attempt_at = 0 RETURNING id'))
  const b = await mediaProcess(t, db.url, 'node-b', mediaDir, emu.graphUrl)
  b.start()
  const [row] = await until(async () => {
    const r = await db.rows()
    return r[0]?.state === 'stored' ? r : undefined
  }, 'B stored the download')
  release()
  // A's download finishes after B's store; A finds the row stored.
  await a.settled()
  t.equal(downloads.length, 2, 'both downloaded the file (the lease ran out)')
  t.same(files(), [row!.path], "only B's file: A deleted its own")
  const [after] = await db.rows()
  t.equal(after!.path, row!.path, "the row still names B's file")
  const updates = await until(async () => {
    const u = await db.updates()
    return u.length > 0 ? u : undefined
  }, 'the message updated')
  t.same(messageIdsOf(updates), [message], 'one message.updated: A emitted nothing')
})
