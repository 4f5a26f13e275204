// The automatic replies end to end over real HTTP: a customer writes through the Graph
// API emulator (signed webhooks to Parley's real route), Parley answers through its
// outbox, and the emulator receives the send as the customer would. Time moves with the
// app's injectable clock; business hours are set so that "now" is inside or outside them.
import t from 'tap'
import { startEmulator, GRAPH_TOKEN, WABA_ID, until, type Emu } from './helpers/emulator.ts'
import { apiCall, startServer, type ApiCall, type TestServer, type TestLike } from './helpers/server.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { echo } from './helpers/coexistence.ts'
import { contact, envelope, inbound, value } from './helpers/wa.ts'
import type { MessageDTO } from '../src/events/types.ts'

const HOUR = 3600_000
const ALWAYS_CLOSED = { weekly: {}, holidays: [] }
const allDay = [{ from: '00:00', to: '24:00' }]
const ALWAYS_OPEN = {
  weekly: { mon: allDay, tue: allDay, wed: allDay, thu: allDay, fri: allDay, sat: allDay, sun: allDay },
  holidays: [],
}
const AWAY = 'We are closed now; we answer from 9:00.'
const GREETING = 'Hi! Thanks for writing to us.'

interface Setup {
  emu: Emu
  parley: TestServer
  call: ApiCall
  clock: { offset: number; now(): number }
}

async function setup(t: TestLike): Promise<Setup> {
  const clock = { offset: 0, now: () => Date.now() + clock.offset }
  const emu = await startEmulator(t)
  const parley = await startServer(t, {
    clock,
    env: {
      GRAPH_API_URL: emu.graphUrl,
      WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
      WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
      OUTBOX_RETRY_BASE_MS: '20',
      OUTBOX_RETRY_CAP_MS: '200',
      // The clock moves past 12 hours; the admin's session outlives it.
      SESSION_TTL_SECONDS: String(3 * 86400),
    },
  })
  emu.emulator.setWebhookUrl(`${parley.url}/webhooks/whatsapp`)
  const { token } = await parley.login()
  return { emu, parley, call: apiCall(parley.url, token), clock }
}

async function settings(call: ApiCall, patch: Record<string, unknown>) {
  const r = await call('PATCH', '/api/settings/workspace', patch)
  if (r.status !== 200) throw new Error(`settings: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body.settings
}

async function messagesOf(s: Setup, phone: string): Promise<MessageDTO[]> {
  const list = await s.call('GET', '/api/conversations?status=all')
  const conv = list.body.conversations.find((c: any) => c.contact.externalId === phone)
  if (!conv) return []
  return (await s.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages
}

/** What the customer's phone received from the business. */
const received = async (emu: Emu, phone: string) => (await emu.messages(phone)).filter((m) => m.direction === 'out')

t.test('settings: defaults, a round trip, validation, and admins only', async (t) => {
  const s = await setup(t)
  const got = await s.call('GET', '/api/settings/workspace')
  t.equal(got.status, 200)
  t.same(got.body, { settings: { assignmentCap: 10, timezone: 'UTC', businessHours: null, awayMessage: null, greetingMessage: null } })

  const hours = {
    weekly: {
      mon: [
        { from: '13:00', to: '17:30' },
        { from: '09:00', to: '12:00' },
      ],
      fri: [{ from: '09:00', to: '15:00' }],
    },
    holidays: ['2026-12-25', '2026-01-01'],
  }
  const saved = await settings(s.call, {
    assignmentCap: 25,
    timezone: 'Europe/Lisbon',
    businessHours: hours,
    awayMessage: AWAY,
    greetingMessage: '   ',
  })
  t.same(saved, {
    assignmentCap: 25,
    timezone: 'Europe/Lisbon',
    businessHours: {
      weekly: {
        mon: [
          { from: '09:00', to: '12:00' },
          { from: '13:00', to: '17:30' },
        ],
        fri: [{ from: '09:00', to: '15:00' }],
      },
      holidays: ['2026-01-01', '2026-12-25'],
    },
    awayMessage: AWAY,
    greetingMessage: null,
  })
  t.same((await s.call('GET', '/api/settings/workspace')).body.settings, saved, 'stored')
  // A partial change leaves the rest.
  t.equal((await settings(s.call, { assignmentCap: 3 })).timezone, 'Europe/Lisbon')

  const refused = async (patch: unknown, status: number, code: string, what: string) => {
    const r = await s.call('PATCH', '/api/settings/workspace', patch)
    t.equal(r.status, status, what)
    t.equal(r.body?.error?.code, code, what)
  }
  await refused({ timezone: 'Mars/Olympus_Mons' }, 422, 'SETTINGS_INVALID', 'a timezone Intl does not know')
  await refused(
    { businessHours: { weekly: { tue: [{ from: '18:00', to: '09:00' }] }, holidays: [] } },
    422,
    'SETTINGS_INVALID',
    'backwards hours',
  )
  await refused(
    {
      businessHours: {
        weekly: {
          tue: [
            { from: '09:00', to: '12:00' },
            { from: '11:00', to: '13:00' },
          ],
        },
        holidays: [],
      },
    },
    422,
    'SETTINGS_INVALID',
    'overlapping hours',
  )
  await refused({ businessHours: { weekly: {}, holidays: ['2026-02-30'] } }, 422, 'SETTINGS_INVALID', 'a date that does not exist')
  await refused({ businessHours: { weekly: { mon: [{ from: '9', to: '17:00' }] }, holidays: [] } }, 400, 'VALIDATION_FAILED', 'not HH:MM')
  await refused({ assignmentCap: 0 }, 400, 'VALIDATION_FAILED', 'cap below 1')
  await refused({ assignmentCap: 1001 }, 400, 'VALIDATION_FAILED', 'cap above 1000')
  await refused({ awayMessage: 'x'.repeat(1025) }, 400, 'VALIDATION_FAILED', 'text over 1024')
  t.equal((await s.call('GET', '/api/settings/workspace')).body.settings.timezone, 'Europe/Lisbon', 'nothing refused was stored')

  // Back to always open.
  t.equal((await settings(s.call, { businessHours: null })).businessHours, null)

  // An agent reads them but cannot change them.
  const { auth } = s.parley.app.services
  await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'ben@example.com',
    name: 'Ben',
    password: 'agent password 1',
    role: 'agent',
  })
  const agent = apiCall(s.parley.url, (await s.parley.login({ email: 'ben@example.com', password: 'agent password 1' })).token)
  t.equal((await agent('GET', '/api/settings/workspace')).status, 200)
  const denied = await agent('PATCH', '/api/settings/workspace', { awayMessage: 'hijacked' })
  t.equal(denied.status, 403)
  t.equal(denied.body.error.code, 'FORBIDDEN')
  t.equal((await s.call('GET', '/api/settings/workspace')).body.settings.awayMessage, AWAY)
  t.equal((await s.call('GET', '/api/settings/workspace', undefined, null)).status, 401, 'signed out')
})

t.test('away: outside hours once per conversation per 12 h, through the outbox, marked automatic', async (t) => {
  const s = await setup(t)
  await settings(s.call, { businessHours: ALWAYS_CLOSED, awayMessage: AWAY })
  const phone = '15550001111'
  await s.emu.customer('Maria', phone)

  await s.emu.say(phone, 'Hello?')
  const first = await until(async () => (await received(s.emu, phone)).find((m) => m.text === AWAY), 'the away reply at the customer')
  t.equal(first.type, 'text')
  const stored = await until(
    async () =>
      (await messagesOf(s, phone)).find((m) => m.context?.automatic === 'away' && m.status !== 'queued' && m.status !== 'sending'),
    'the away reply sent',
  )
  t.equal(stored.direction, 'out')
  t.equal(stored.senderUserId, null, 'sent by nobody')
  t.equal(stored.text, AWAY)
  t.equal(stored.providerMessageId, first.id, 'the wamid Meta gave the send')

  // Within 12 hours: nothing more.
  s.clock.offset = 11 * HOUR
  await s.emu.say(phone, 'Anyone there?')
  await until(async () => (await messagesOf(s, phone)).some((m) => m.text === 'Anyone there?'), 'the second message stored')
  // The webhook's transaction would have queued it with the message: nothing is queued or sent.
  t.equal((await messagesOf(s, phone)).filter((m) => m.context?.automatic).length, 1, 'no second away reply within 12 h')

  // Past 12 hours since the last away reply: once more.
  s.clock.offset = 12 * HOUR + 60_000
  await s.emu.say(phone, 'Hello again')
  await until(async () => (await received(s.emu, phone)).filter((m) => m.text === AWAY).length === 2, 'a second away reply after 12 h')
  t.equal((await messagesOf(s, phone)).filter((m) => m.context?.automatic === 'away').length, 2)
})

t.test('greeting: only the first message of a brand-new conversation; nothing inside hours', async (t) => {
  const s = await setup(t)
  await settings(s.call, { businessHours: ALWAYS_OPEN, awayMessage: AWAY, greetingMessage: GREETING })
  const phone = '15550002222'
  await s.emu.customer('Ana', phone)
  await s.emu.say(phone, 'Hi there')
  await until(async () => (await received(s.emu, phone)).some((m) => m.text === GREETING), 'the greeting at the customer')
  await s.emu.say(phone, 'Second message')
  await until(async () => (await messagesOf(s, phone)).some((m) => m.text === 'Second message'), 'second stored')
  const all = await messagesOf(s, phone)
  t.same(
    all.filter((m) => m.context?.automatic).map((m) => m.context?.automatic),
    ['greeting'],
    'one greeting, and no away reply inside hours',
  )
  const greeting = all.find((m) => m.context?.automatic === 'greeting')!
  const firstIn = all.find((m) => m.text === 'Hi there')!
  t.ok(greeting.id > firstIn.id, 'after the customer’s message in the timeline')

  // Outside hours for a new conversation: the greeting and the away message, in that order.
  await settings(s.call, { businessHours: ALWAYS_CLOSED })
  const other = '15550003333'
  await s.emu.customer('Rui', other)
  await s.emu.say(other, 'Olá')
  await until(async () => (await received(s.emu, other)).length === 2, 'two automatic replies')
  t.same(
    (await messagesOf(s, other)).filter((m) => m.context?.automatic).map((m) => m.context?.automatic),
    ['greeting', 'away'],
  )
})

t.test('nothing when the texts are off, for a reaction, or for a phone-app echo', async (t) => {
  const s = await setup(t)
  await settings(s.call, { businessHours: ALWAYS_CLOSED, awayMessage: null, greetingMessage: null })
  const phone = '15550004444'
  await s.emu.customer('Lea', phone)
  await s.emu.say(phone, 'Hello, closed?')
  await until(async () => (await messagesOf(s, phone)).length === 1, 'stored')

  // The texts set now; a phone-app echo and a reaction are not the customer writing.
  await settings(s.call, { awayMessage: AWAY, greetingMessage: GREETING })
  const newcomer = '15550005555'
  const r1 = await s.parley.webhook(echo(newcomer, 'Hi from the shop phone'))
  t.equal(r1.status, 200)
  const target = (await messagesOf(s, phone))[0]!
  const reaction = inbound(phone, 'reaction', { message_id: target.providerMessageId, emoji: '👍' })
  const r2 = await s.parley.webhook(envelope(value({ contacts: [contact(phone, 'Lea')], messages: [reaction] })))
  t.equal(r2.status, 200)
  await until(async () => (await messagesOf(s, newcomer)).length === 1, 'the echo stored')
  await until(async () => (await messagesOf(s, phone)).length === 2, 'the reaction stored')
  t.same(
    (await messagesOf(s, phone)).filter((m) => m.context?.automatic),
    [],
    'no reply to a reaction (or with texts off)',
  )
  t.same(
    (await messagesOf(s, newcomer)).filter((m) => m.context?.automatic),
    [],
    'no reply to an echo',
  )
  t.same(await received(s.emu, phone), [], 'the customer received nothing')

  // Texts off again: a customer's message outside hours gets nothing.
  await settings(s.call, { awayMessage: null, greetingMessage: null })
  await s.emu.say(phone, 'Still closed?')
  await until(async () => (await messagesOf(s, phone)).some((m) => m.text === 'Still closed?'), 'stored')
  t.same(
    (await messagesOf(s, phone)).filter((m) => m.context?.automatic),
    [],
  )
})

t.test('a change of the settings applies to the very next customer message', async (t) => {
  const s = await setup(t)
  // Read (and kept in memory) for each of these messages; each change must reach the next one.
  await settings(s.call, { businessHours: ALWAYS_OPEN, awayMessage: AWAY })
  const phone = '15550006666'
  await s.emu.customer('Iris', phone)
  await s.emu.say(phone, 'Open?')
  await until(async () => (await messagesOf(s, phone)).some((m) => m.text === 'Open?'), 'the first message stored')
  t.same(
    (await messagesOf(s, phone)).filter((m) => m.context?.automatic),
    [],
    'inside hours: no away reply',
  )

  await settings(s.call, { businessHours: ALWAYS_CLOSED })
  await s.emu.say(phone, 'Closed now?')
  await until(async () => (await received(s.emu, phone)).some((m) => m.text === AWAY), 'the away reply right after hours changed')

  const CHANGED = 'Back on Monday.'
  await settings(s.call, { awayMessage: CHANGED })
  s.clock.offset = 12 * HOUR + 60_000
  await s.emu.say(phone, 'Still closed?')
  await until(async () => (await received(s.emu, phone)).some((m) => m.text === CHANGED), 'the new away text on the next message')
  t.same(
    (await messagesOf(s, phone)).filter((m) => m.context?.automatic).map((m) => m.text),
    [AWAY, CHANGED],
  )
})

t.test('Messenger: the away reply goes through the Send API too', async (t) => {
  const sb = await startMessengerSandbox(t)
  await settings(sb.call, { businessHours: ALWAYS_CLOSED, awayMessage: AWAY })
  const { psid, conv } = await sb.chat('Lena', 'Bonjour ?')
  await until(async () => (await sb.atUser(psid)).some((m: any) => m.direction === 'out' && m.text === AWAY), 'the away reply at the user')
  const auto = await until(
    async () => (await sb.messages(conv.id)).find((m) => m.context?.automatic === 'away' && m.providerMessageId),
    'stored with its mid',
  )
  t.equal(auto.senderUserId, null)
  t.equal((await sb.messages(conv.id)).filter((m) => m.context?.automatic).length, 1, 'its echo did not become a second message')
})
