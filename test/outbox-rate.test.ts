// Throughput per number. Counted where Meta counts it — at the emulator, per second —
// never by timing the test itself.
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { PHONE_NUMBER_ID } from './helpers/server.ts'
import { SendRateLimiter, retryDelay, THROTTLE_PAUSE_BASE_MS, WINDOW_MARGIN_MS } from '../src/domain/outbox-rate.ts'

async function customers(p: Pair, n: number) {
  const ids: number[] = []
  for (let i = 0; i < n; i++) {
    const phone = `1555000${2000 + i}`
    await p.emu.customer(`Customer ${i}`, phone)
    await p.emu.say(phone, 'hello')
  }
  for (const c of (await p.call('GET', '/api/conversations?limit=200')).body.conversations) ids.push(c.id)
  return ids
}

async function burst(p: Pair, convs: number[], perConversation: number) {
  const posts = []
  for (let i = 0; i < perConversation; i++) {
    for (const id of convs) {
      posts.push(p.call('POST', `/api/conversations/${id}/messages`, { text: `burst ${id}/${i}`, clientMessageId: `b-${id}-${i}` }))
    }
  }
  const res = await Promise.all(posts)
  if (res.some((r) => r.status !== 202)) throw new Error('a POST was refused')
  return res.length
}

async function allAccepted(p: Pair, n: number) {
  await until(async () => (await p.emu.stats()).accepted >= n, `${n} sends accepted`, 30_000)
  const out = p.emu.emulator.state.messages.filter((m) => m.direction === 'out')
  return out
}

t.test('a burst is paced to the number’s rate: never more sends in a second than allowed', async (t) => {
  const RATE = 10
  const p = await startPair(t, { env: { WHATSAPP_SEND_RATE_PER_SECOND: String(RATE) }, emulator: { ratePerSecond: RATE } })
  const convs = await customers(p, 8)
  const n = await burst(p, convs, 5)
  t.equal(n, 40)
  const out = await allAccepted(p, n)
  t.equal(out.length, 40)
  t.equal(new Set(out.map((m) => m.text)).size, 40, 'every message once')
  const stats = await p.emu.stats()
  const perSecond = Object.values(stats.requestsPerSecond[PHONE_NUMBER_ID] ?? {})
  t.ok(perSecond.length >= 4, `spread over ${perSecond.length} seconds`)
  t.ok(Math.max(...perSecond) <= RATE, `at most ${RATE} requests in any second (${perSecond.join(', ')})`)
  t.same(stats.rejected, {}, 'Meta never had to say 130429')
})

t.test('when Meta says 130429 the number backs off and every message still goes exactly once', async (t) => {
  // Parley thinks the number can do 50/s; Meta allows 5.
  const p = await startPair(t, { env: { WHATSAPP_SEND_RATE_PER_SECOND: '50' }, emulator: { ratePerSecond: 5 } })
  const convs = await customers(p, 10)
  const n = await burst(p, convs, 2)
  const out = await allAccepted(p, n)
  t.equal(out.length, 20)
  t.equal(new Set(out.map((m) => m.text)).size, 20, 'no duplicates')
  const stats = await p.emu.stats()
  t.ok((stats.rejected[130429] ?? 0) > 0, `Meta throttled ${stats.rejected[130429]} requests`)
  const failed = p.parley.db.$client.prepare(`SELECT count(*) AS n FROM messages WHERE status = 'failed'`).get() as { n: number }
  t.equal(failed.n, 0, 'a throttle never fails a message')
})

t.test('the limiter: at most N starts in any window, pauses that grow and do not echo', async (t) => {
  const rnd = () => 0.5
  const l = new SendRateLimiter(5, rnd)
  const W = 1000 + WINDOW_MARGIN_MS
  t.equal(l.available(1, 0), 5)
  for (let i = 0; i < 5; i++) l.take(1, i * 10)
  t.equal(l.available(1, 100), 0)
  t.equal(l.nextFreeAt(1, 100), W, 'the oldest start leaves the window')
  t.equal(l.available(1, W - 1), 0)
  t.equal(l.available(1, W), 1)
  t.equal(l.available(1, W + 40), 5)
  t.equal(l.available(2, 100), 5, 'numbers are independent')

  const until1 = l.throttled(1, 5000, 5000)
  t.equal(l.available(1, 5001), 0, 'a throttled number sends nothing')
  t.equal(until1, 5000 + Math.round(THROTTLE_PAUSE_BASE_MS * 0.75))
  // A request that left before the pause began is an echo of the same burst.
  t.equal(l.throttled(1, 4999, 5100), until1, 'echoes do not lengthen the pause')
  const until2 = l.throttled(1, until1 + 1, until1 + 1)
  t.equal(until2 - (until1 + 1), Math.round(2 * THROTTLE_PAUSE_BASE_MS * 0.75), 'a repeat doubles the pause')
  l.succeeded(1)
  const until3 = l.throttled(1, until2 + 1, until2 + 1)
  t.equal(until3 - (until2 + 1), Math.round(THROTTLE_PAUSE_BASE_MS * 0.75), 'a success resets it')

  for (let a = 1; a <= 20; a++) {
    const d = retryDelay(a, 1000, 60_000, () => 0.999)
    t.ok(d <= Math.min(60_000, 1000 * 2 ** (a - 1)), `attempt ${a}: ${d} ms under the capped exponential`)
  }
  t.equal(retryDelay(3, 1000, 60_000, () => 0), 0, 'full jitter reaches zero')
})
