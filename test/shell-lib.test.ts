// The inbox shell's pure parts (issue 11): avatar initials, the list row's time against
// the server's real conversation DTO, and the bounded per-user draft store.
import t from 'tap'
import { initials, rowTime } from '../web/src/lib/format.ts'
import { createDrafts, draftsKey, MAX_AGE_MS, MAX_DRAFTS, prune } from '../web/src/lib/drafts.ts'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'

t.test('initials come from the words of the name; words of digits are skipped', async (t) => {
  t.equal(initials('Customer 184'), 'C')
  t.equal(initials('Ana Lopez'), 'AL')
  t.equal(initials('ana maría lópez'), 'AL', 'first and last word')
  t.equal(initials('Ölaf'), 'Ö')
  t.equal(initials('  Bea   '), 'B')
  t.equal(initials('Room 12 Guest'), 'RG')
  t.equal(initials('+49 151 2345678'), '#', 'a phone number has no letters')
  t.equal(initials('R2D2 unit'), 'RU', 'a word with a letter counts')
  t.equal(initials('🙂 Zoe'), 'Z', 'symbols are not letters')
  t.equal(initials('𝒜lice'), '𝒜', 'a letter outside the BMP stays whole')
})

t.test("a row's time is its preview's: an older message arriving late moves the list, not the time", async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const api = apiCall(s.url, token)
  const from = '4915100000901'
  const hook = async (body: string, offsetSeconds: number) => {
    const m = text(from, body)
    m.timestamp = String(Math.floor(Date.now() / 1000) + offsetSeconds)
    const res = await s.webhook(envelope(value({ contacts: [contact(from, 'Late Larry')], messages: [m] })))
    t.equal(res.status, 200)
  }
  await hook('newer, written a minute ago', -60)
  // Meta retried this one for an hour: it arrives after the newer one.
  await hook('older, written an hour ago', -3600)

  const list = await api('GET', '/api/conversations')
  const dto = list.body.conversations.find((c: { contact: { externalId: string } }) => c.contact.externalId === from)
  t.equal(dto.lastMessagePreview, 'newer, written a minute ago', 'the preview stays the newest message')
  const msgs = await api('GET', `/api/conversations/${dto.id}/messages`)
  const preview = msgs.body.messages.find((m: { id: number }) => m.id === dto.lastMessageId)
  t.equal(preview.text, 'newer, written a minute ago')
  t.equal(dto.lastMessageAt, preview.timestamp, "the DTO carries the preview message's time")
  t.ok(dto.lastActivityAt > preview.timestamp, 'while the ordering key is when the late one arrived')
  t.equal(rowTime(dto), preview.timestamp, 'and the row shows the preview’s time')
})

t.test('drafts: per user, cleared when empty, bounded by count and age', async (t) => {
  const mem = new Map<string, string>()
  const g = globalThis as { localStorage?: unknown }
  g.localStorage = {
    getItem: (k: string) => mem.get(k) ?? null,
    setItem: (k: string, v: string) => void mem.set(k, v),
    removeItem: (k: string) => void mem.delete(k),
  }
  t.teardown(() => void delete g.localStorage)
  let now = 1_000_000_000_000
  const a = createDrafts(() => now)
  a.use(1)
  a.set(10, 'hello')
  t.equal(a.get(10), 'hello')
  t.ok(mem.get(draftsKey(1))?.includes('hello'), 'stored under the user')

  // A reload: a new store for the same user reads it back; another user does not see it.
  const reloaded = createDrafts(() => now)
  reloaded.use(1)
  t.equal(reloaded.get(10), 'hello')
  const other = createDrafts(() => now)
  other.use(2)
  t.equal(other.get(10), undefined, "another user's drafts are not shown")

  reloaded.delete(10)
  t.equal(a.get(10), undefined, 'sent: gone for every tab')
  t.notOk(mem.has(draftsKey(1)), 'and nothing left in storage')

  for (let i = 0; i < MAX_DRAFTS + 5; i++) {
    now += 1000
    a.set(100 + i, `d${i}`)
  }
  t.equal(a.get(100), undefined, 'the oldest beyond the bound are pruned')
  t.equal(a.get(100 + MAX_DRAFTS + 4), `d${MAX_DRAFTS + 4}`)
  t.equal(Object.keys(JSON.parse(mem.get(draftsKey(1))!)).length, MAX_DRAFTS)

  t.same(
    prune({ 1: { text: 'old', at: 0 }, 2: { text: 'new', at: MAX_AGE_MS } }, MAX_AGE_MS + 1),
    { 2: { text: 'new', at: MAX_AGE_MS } },
    'too old is dropped',
  )
  t.same(prune({ 1: { text: '', at: 5 } } as never, 6), {}, 'empty is dropped')
})

t.test('login and /api/me tell the browser when the session ends', async (t) => {
  const s = await startServer(t, { env: { SESSION_TTL_SECONDS: '600' } })
  const before = Date.now()
  const res = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  t.equal(res.status, 200)
  const body = (await res.json()) as { token: string; expiresAt: number }
  t.ok(body.expiresAt >= before + 600_000 && body.expiresAt <= Date.now() + 600_000, 'expiresAt is the session TTL from now, in ms')
  const me = await apiCall(s.url, body.token)('GET', '/api/me')
  t.equal(me.body.expiresAt, body.expiresAt, '/api/me names the same end')
})
