// GET /stream: real SSE clients against a listening server.
import net from 'node:net'
import t from 'tap'
import { startServer, ADMIN, PHONE_NUMBER_ID, type TestServer } from './helpers/server.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { otherWorkspaceAdmin } from './helpers/team-fixtures.ts'
import { until } from './helpers/emulator.ts'
import { textWebhook, envelope, value, contact, text } from './helpers/wa.ts'

const idNum = (id: string | undefined) => Number(id!.split(':')[1])

async function post(s: TestServer, n: number, label: string, concurrency = 4): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      const res = await s.webhook(textWebhook(`1555000${(i % 7) + 1000}`, `C${i % 7}`, `${label} ${i}`).payload)
      if (res.status !== 200) throw new Error(`webhook ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

t.test('headers, first bytes, retry with jitter', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream/)
  t.equal(sse.headers['cache-control'], 'no-cache, no-transform')
  t.equal(sse.headers['x-accel-buffering'], 'no')
  t.notOk(sse.headers['content-encoding'], 'never compressed')
  await sse.waitFor(() => sse.retry !== undefined && sse.comments.includes('connected'))
  t.ok(sse.retry! >= 1000 && sse.retry! <= 5000, `retry ${sse.retry}`)
})

t.test('heartbeat comments and named pings', async (t) => {
  const s = await startServer(t, { env: { SSE_HEARTBEAT_SECONDS: '1', SSE_PING_SECONDS: '2' } })
  const { token } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => sse.close())
  await sse.waitFor((ev) => ev.some((e) => e.event === 'ping') && sse.comments.includes('hb'), 6000)
  const ping = sse.events.find((e) => e.event === 'ping')!
  t.equal(ping.id, undefined, 'pings carry no id, so they never move the cursor')
  t.ok(JSON.parse(ping.data).t > 0)
})

t.test('live events carry epoch-prefixed ids and the payload the client needs', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => sse.close())
  await s.webhook(textWebhook('15550001111', 'Alice', 'hello').payload)
  await sse.waitFor((ev) => ev.length === 1)
  const [ev] = sse.events
  t.match(ev!.id, new RegExp(`^${s.app.services.events.epoch}:1$`))
  t.equal(ev!.event, 'message.created')
  const data = JSON.parse(ev!.data)
  t.match(data, {
    message: { text: 'hello', direction: 'in', type: 'text' },
    conversation: { unreadCount: 1, lastMessagePreview: 'hello', contact: { name: 'Alice', phone: '15550001111' } },
  })
})

t.test('replay after disconnects while events keep arriving: no gap, no duplicate, in order', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const received: number[] = []
  const collect = (c: SseClient, from: number) =>
    c.events
      .slice(from)
      .filter((e) => e.id)
      .map((e) => idNum(e.id))

  const total = 240
  const producing = post(s, total, 'msg')
  let client = await connectSse(`${s.url}/stream`, { token, lastEventId: `${s.app.services.events.epoch}:0` })
  // Disconnect and reconnect several times mid-stream, alternating header and query cursors.
  for (let round = 0; round < 4; round++) {
    await client.waitFor((ev) => ev.length >= 10, 10000).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 20 + round * 15))
    client.close()
    received.push(...collect(client, 0))
    const last = `${s.app.services.events.epoch}:${received[received.length - 1] ?? 0}`
    // Events keep arriving while this client is away.
    await new Promise((r) => setTimeout(r, 30))
    client =
      round % 2 === 0
        ? await connectSse(`${s.url}/stream`, { token, lastEventId: last })
        : await connectSse(`${s.url}/stream?lastEventId=${encodeURIComponent(last)}`, { token })
  }
  await producing
  // On PostgreSQL this process learns of the commits through the log's listener, a moment
  // after the webhooks were answered: wait for it to have seen them all (or more: then the
  // equality below fails).
  await until(async () => s.app.services.events.head >= total, 'the log’s head at the last webhook’s event')
  const head = s.app.services.events.head
  // The earlier connections may already have carried every event (a fast producer):
  // then this last one has nothing to replay, and waiting for the head on it alone
  // would wait for an event that never comes again.
  const seen = (ev: SseClient['events']) => received.includes(head) || ev.some((e) => e.id && idNum(e.id) === head)
  await client.waitFor(seen, 10000)
  client.close()
  received.push(...collect(client, 0))
  t.equal(head, total, 'one event per webhook')
  t.same(
    received,
    Array.from({ length: total }, (_, i) => i + 1),
    'every id once, in order',
  )
  t.notOk(
    received.some((_, i) => i > 0 && received[i]! <= received[i - 1]!),
    'strictly increasing',
  )
})

t.test('a large replay (5,000 events) respects backpressure and then goes live', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  // 50 webhooks × 100 messages.
  for (let w = 0; w < 50; w++) {
    const msgs = Array.from({ length: 100 }, (_, i) => text('15550001111', `bulk ${w}-${i} ` + 'x'.repeat(200)))
    await s.webhook(envelope(value({ contacts: [contact('15550001111', 'Alice')], messages: msgs })))
  }
  const sse = await connectSse(`${s.url}/stream`, { token, lastEventId: `${s.app.services.events.epoch}:0` })
  t.teardown(() => sse.close())
  await s.webhook(textWebhook('15550002222', 'Bob', 'live after replay').payload)
  await sse.waitFor((ev) => ev.filter((e) => e.id).length === 5001, 20000)
  const ids = sse.events.filter((e) => e.id).map((e) => idNum(e.id))
  t.same(
    ids,
    Array.from({ length: 5001 }, (_, i) => i + 1),
  )
  t.match(sse.events[sse.events.length - 1]!.data, /live after replay/)
})

t.test('explicit reset for unknown, other-epoch, future and pruned cursors', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const epoch = s.app.services.events.epoch
  await post(s, 3, 'before', 1)
  const cases: Array<[string, string]> = [
    ['garbage', 'unknown_cursor'],
    ['17', 'unknown_cursor'],
    ['zzzzzzzz:2', 'other_epoch'],
    [`${epoch}:999999`, 'ahead_of_log'],
  ]
  for (const [cursor, reason] of cases) {
    const sse = await connectSse(`${s.url}/stream`, { token, lastEventId: cursor })
    await sse.waitFor((ev) => ev.length >= 1)
    t.equal(sse.events[0]!.event, 'reset', cursor)
    const data = JSON.parse(sse.events[0]!.data)
    t.equal(data.reason, reason)
    t.equal(data.cursor, `${epoch}:3`, 'reset names the current cursor')
    t.equal(sse.events[0]!.id, `${epoch}:3`, 'and moves the browser cursor there')
    sse.close()
  }

  // Pruning: events past retention are deleted; their ids are never reused.
  const oldCursor = `${epoch}:1`
  await s.app.services.events.prune(Date.now() + 1000)
  t.equal(s.app.services.events.prunedThrough, 3)
  const pruned = await connectSse(`${s.url}/stream`, { token, lastEventId: oldCursor })
  t.teardown(() => pruned.close())
  await pruned.waitFor((ev) => ev.length >= 1)
  t.equal(JSON.parse(pruned.events[0]!.data).reason, 'pruned')
  await post(s, 1, 'after prune', 1)
  await pruned.waitFor((ev) => ev.length >= 2)
  t.equal(pruned.events[1]!.id, `${epoch}:4`, 'the id sequence continues after pruning')

  // A cursor exactly at the pruning mark is still complete: nothing after it was pruned.
  const atMark = await connectSse(`${s.url}/stream`, { token, lastEventId: `${epoch}:3` })
  t.teardown(() => atMark.close())
  await atMark.waitFor((ev) => ev.length >= 1)
  t.equal(atMark.events[0]!.id, `${epoch}:4`)
  t.equal(atMark.events[0]!.event, 'message.created')
})

t.test('the Last-Event-ID header wins over the query parameter', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await post(s, 2, 'x', 1)
  const epoch = s.app.services.events.epoch
  const sse = await connectSse(`${s.url}/stream?lastEventId=garbage`, { token, lastEventId: `${epoch}:1` })
  t.teardown(() => sse.close())
  await sse.waitFor((ev) => ev.length >= 1)
  t.equal(sse.events[0]!.id, `${epoch}:2`)
})

t.test('a slow reader is cut off while a fast one keeps receiving, and it replays on reconnect', async (t) => {
  const s = await startServer(t, { env: { SSE_MAX_BUFFERED_BYTES: '65536', SSE_DRAIN_TIMEOUT_MS: '500' } })
  const { token } = await s.login()
  const fast = await connectSse(`${s.url}/stream`, { token })
  const slow = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => (fast.close(), slow.close()))
  t.equal(s.app.services.hub.size, 2)
  slow.pause()
  // Keep publishing until the slow reader is cut: the kernel's socket buffers absorb
  // several MB first, how many depends on the machine. Bounded: at most 60 MB.
  let webhooks = 0
  while (s.app.services.hub.size > 1 && webhooks < 400) {
    const w = webhooks++
    const msgs = Array.from({ length: 40 }, (_, i) => text('15550001111', `big ${w}-${i} ` + 'y'.repeat(3800)))
    const res = await s.webhook(envelope(value({ contacts: [contact('15550001111', 'Alice')], messages: msgs })))
    if (res.status !== 200) throw new Error(`webhook ${res.status}`)
  }
  const total = webhooks * 40
  await fast.waitFor((ev) => ev.length === total, 20000)
  t.equal(fast.events.length, total, 'the fast reader got everything')
  t.equal(s.app.services.hub.size, 1, 'the slow reader was disconnected and is no longer held by the hub')
  // When it reads again it finds the end of its stream (a paused socket cannot see it).
  slow.resume()
  await slow.closed
  t.ok(process.memoryUsage().rss < 1024 * 1024 * 1024, 'memory stays bounded')

  // Its own cursor replays what it missed, once.
  const last = slow.lastId() ?? `${s.app.services.events.epoch}:0`
  const resumed = await connectSse(`${s.url}/stream`, { token, lastEventId: last })
  t.teardown(() => resumed.close())
  await resumed.waitFor((ev) => ev.length === total - idNum(last), 20000)
  const ids = [...slow.events, ...resumed.events].filter((e) => e.id).map((e) => idNum(e.id))
  t.same(
    ids,
    Array.from({ length: total }, (_, i) => i + 1),
  )
})

t.test('streams close on logout and on token expiry', async (t) => {
  const s = await startServer(t, { env: { SESSION_TTL_SECONDS: '2' } })
  const a = await s.login()
  const b = await s.login()
  const sa = await connectSse(`${s.url}/stream`, { token: a.token })
  const sb = await connectSse(`${s.url}/stream`, { cookie: b.cookie })
  t.teardown(() => (sa.close(), sb.close()))
  const out = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` } })
  t.equal(out.status, 200)
  await sa.closed
  t.ok(sa.isClosed(), 'the logged-out session’s stream closed')
  t.notOk(sb.isClosed(), 'other sessions keep theirs')
  const again = await connectSse(`${s.url}/stream`, { token: a.token })
  t.equal(again.status, 401, 'a revoked token cannot reopen')
  again.close()
  await sb.closed
  t.ok(sb.isClosed(), 'the stream closed when its token expired')
  const expired = await connectSse(`${s.url}/stream`, { cookie: b.cookie })
  t.equal(expired.status, 401)
  expired.close()
})

t.test('events are filtered by workspace, live and in replay', async (t) => {
  const s = await startServer(t)
  const { services } = s.app
  const theirs = await otherWorkspaceAdmin(s)
  await s.sql.run(`INSERT INTO channels(workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', '200000000000002', 'Other WA')`, [
    theirs.workspaceId,
  ])
  const mine = await s.login()
  const sMine = await connectSse(`${s.url}/stream`, { token: mine.token })
  const sTheirs = await connectSse(`${s.url}/stream`, { token: theirs.token })
  t.teardown(() => (sMine.close(), sTheirs.close()))

  await s.webhook(
    envelope(
      value({
        contacts: [contact('15550009999', 'Secret')],
        messages: [text('15550009999', 'secret message')],
        phoneNumberId: '200000000000002',
      }),
    ),
  )
  await s.webhook(textWebhook('15550001111', 'Alice', 'for workspace 1').payload)
  await sMine.waitFor((ev) => ev.length === 1)
  await sTheirs.waitFor((ev) => ev.length === 1)
  t.match(sMine.events[0]!.data, /for workspace 1/)
  t.notMatch(sMine.events.map((e) => e.data).join(), /secret/)
  t.match(sTheirs.events[0]!.data, /secret message/)

  // A forged cursor replays only the user's own workspace.
  const replay = await connectSse(`${s.url}/stream`, { token: mine.token, lastEventId: `${services.events.epoch}:0` })
  t.teardown(() => replay.close())
  await replay.waitFor((ev) => ev.length >= 1)
  await new Promise((r) => setTimeout(r, 100))
  t.equal(replay.events.length, 1)
  t.notMatch(replay.events[0]!.data, /secret/)

  // REST: the other workspace's conversation answers 404 on every route.
  const otherConv = (await s.sql.get<{ id: number }>('SELECT id FROM conversations WHERE workspace_id = ?', [theirs.workspaceId]))!.id
  for (const [method, path] of [
    ['GET', `/api/conversations/${otherConv}`],
    ['GET', `/api/conversations/${otherConv}/messages`],
    ['POST', `/api/conversations/${otherConv}/read`],
  ] as const) {
    const res = await fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${mine.token}` } })
    t.equal(res.status, 404, `${method} ${path}`)
  }
  const list = (await (await s.get('/api/conversations', mine.token)).json()) as { conversations: unknown[] }
  t.equal(list.conversations.length, 1)
  t.equal(PHONE_NUMBER_ID, '100000000000002')
  t.equal(ADMIN.email, 'admin@example.com')
})

// The hub frames HTTP chunks itself and writes them to the socket (one framing per
// batch for every stream). Read here byte for byte, as a proxy would see them.
async function rawStream(s: TestServer, token: string, version: '1.0' | '1.1') {
  const url = new URL(s.url)
  const sock = net.connect(Number(url.port), url.hostname)
  let bytes = Buffer.alloc(0)
  sock.on('data', (d: Buffer) => (bytes = Buffer.concat([bytes, d])))
  await new Promise((r) => sock.once('connect', r))
  sock.write(`GET /stream HTTP/${version}\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${token}\r\n\r\n`)
  return {
    sock,
    get bytes() {
      return bytes
    },
  }
}

/** Decodes an HTTP/1.1 chunked body strictly: every size line must match its data. */
function dechunk(body: Buffer): { data: string; complete: boolean } {
  const parts: Buffer[] = []
  let pos = 0
  for (;;) {
    const nl = body.indexOf('\r\n', pos)
    if (nl < 0) return { data: Buffer.concat(parts).toString('utf8'), complete: pos === body.length }
    const size = Number.parseInt(body.toString('latin1', pos, nl), 16)
    if (!Number.isInteger(size) || size === 0) throw new Error(`bad chunk size at ${pos}: ${body.toString('latin1', pos, nl)}`)
    if (body.length < nl + 2 + size + 2) return { data: Buffer.concat(parts).toString('utf8'), complete: false }
    parts.push(body.subarray(nl + 2, nl + 2 + size))
    if (body.toString('latin1', nl + 2 + size, nl + 4 + size) !== '\r\n') throw new Error('chunk not followed by CRLF')
    pos = nl + 4 + size
  }
}

t.test('HTTP/1.1 streams are well-formed chunks (multi-byte text included); HTTP/1.0 peers get the raw stream', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const v11 = await rawStream(s, token, '1.1')
  const v10 = await rawStream(s, token, '1.0')
  t.teardown(() => {
    v11.sock.destroy()
    v10.sock.destroy()
  })
  const headEnd = (b: Buffer) => b.indexOf('\r\n\r\n')
  await until(async () => headEnd(v11.bytes) > 0 && headEnd(v10.bytes) > 0, 'both answered')
  await s.webhook(textWebhook('15550001111', 'Zoë', 'ça va? 👋 こんにちは').payload)
  await s.webhook(textWebhook('15550001111', 'Zoë', 'second').payload)
  const body11 = () => dechunk(v11.bytes.subarray(headEnd(v11.bytes) + 4))
  const body10 = () => v10.bytes.subarray(headEnd(v10.bytes) + 4).toString('utf8')
  await until(
    async () => body11().complete && body11().data.includes('second') && body10().includes('second'),
    'both streams carry both events',
  )
  t.match(v11.bytes.toString('latin1', 0, headEnd(v11.bytes)), /^HTTP\/1\.1 200 OK\r\n[\s\S]*transfer-encoding: chunked/i)
  t.notMatch(v10.bytes.toString('latin1', 0, headEnd(v10.bytes)), /transfer-encoding/i, 'no chunking for HTTP/1.0')
  const frames = (text: string) => text.split('\n\n').filter((f) => f.startsWith('id: '))
  const f11 = frames(body11().data)
  t.equal(f11.length, 2)
  t.match(f11[0], /ça va\? 👋 こんにちは/, 'multi-byte text arrives intact: chunk sizes count bytes')
  t.same(frames(body10()), f11, 'the HTTP/1.0 peer reads the same event stream')
})
