// Issue 11, point 20: streams per session are capped (SSE_MAX_STREAMS_PER_SESSION,
// default 5). The sixth stream of a session closes the session's oldest; that one
// loses nothing — it replays from its cursor when it reconnects.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'

/** A wait that fails the test instead of hanging it when the stream is never closed. */
const closedWithin = (c: SseClient, what: string) =>
  Promise.race([
    c.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} was never closed`)), 10_000).unref()),
  ])

const messages = (c: SseClient) => c.data<{ message: { text: string } }>('message.created').map((d) => d.message.text)

t.test('a session holds at most five streams: the oldest goes, the others and other sessions stay', async (t) => {
  const s = await startServer(t)
  const mine = await s.login()
  const other = await s.login()
  const bystander = await connectSse(`${s.url}/stream`, { token: other.token })
  t.teardown(() => bystander.close())

  const streams: SseClient[] = []
  for (let i = 0; i < 12; i++) {
    const c = await connectSse(`${s.url}/stream`, i % 2 ? { cookie: mine.cookie } : { token: mine.token })
    t.teardown(() => c.close())
    t.equal(c.status, 200, `stream ${i + 1} is accepted`)
    streams.push(c)
  }
  await Promise.all(streams.slice(0, 7).map((c, i) => closedWithin(c, `stream ${i + 1}`)))
  t.ok(
    streams.slice(0, 7).every((c) => c.isClosed()),
    'the seven oldest were closed, bearer or cookie alike',
  )
  t.ok(
    streams.slice(7).every((c) => !c.isClosed()),
    'the five newest are open',
  )
  t.equal(s.app.services.hub.size, 6, 'five of this session plus the other session’s one')

  await s.webhook(textWebhook('15550002222', 'Bea', 'still live').payload)
  for (const c of [...streams.slice(7), bystander]) await c.waitFor(() => messages(c).includes('still live'))
  t.pass('every open stream gets live events')
})

t.test('a closed stream replays what it missed when it reconnects', async (t) => {
  const s = await startServer(t, { env: { SSE_MAX_STREAMS_PER_SESSION: '2' } })
  const { token } = await s.login()
  const first = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => first.close())
  await s.webhook(textWebhook('15550003333', 'Cy', 'before').payload)
  await first.waitFor(() => messages(first).includes('before'))

  const second = await connectSse(`${s.url}/stream`, { token })
  const third = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => second.close())
  t.teardown(() => third.close())
  await closedWithin(first, 'the first stream')
  t.notOk(second.isClosed() || third.isClosed(), 'the third stream of a two-stream session closed only the oldest')

  await s.webhook(textWebhook('15550003333', 'Cy', 'while away').payload)
  await third.waitFor(() => messages(third).includes('while away'))
  t.notOk(messages(first).includes('while away'), 'the closed stream did not get it live')

  const back = await connectSse(`${s.url}/stream`, { token, lastEventId: first.lastId()! })
  t.teardown(() => back.close())
  await back.waitFor(() => messages(back).includes('while away'))
  t.same(messages(back), ['while away'], 'it replays exactly what it missed')
  await closedWithin(second, 'the second stream')
  t.pass('and its return closed the now-oldest stream in turn')
})
