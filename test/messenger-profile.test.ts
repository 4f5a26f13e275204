// Messenger contacts get the person's name from Meta's User Profile API. A real Parley in
// sandbox mode: its Graph client calls the emulator over real HTTP with the Page token,
// simulated users write through the real signed webhook route, the inbox is read over
// REST and a real SSE stream. Nothing of Parley is replaced; waits poll observable state
// (the emulator's counters, Parley's queue of pending fetches), never the clock.
import t from 'tap'
import type { TestLike } from './helpers/server.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import type { ConversationDTO } from '../src/events/types.ts'

async function sandbox(t: TestLike, env: Record<string, string> = {}) {
  const sb = await startMessengerSandbox(t, env)
  const { s, call, stats } = sb
  /** The user writes a text; resolves once Parley answered the signed webhook 200. */
  const say = (psid: string, text: string) => sb.say(psid, { type: 'text', text })
  const profileRequests = async (psid: string): Promise<number> => (await stats()).profileRequestsByPsid[psid] ?? 0
  const faults = async (profiles: Record<string, unknown>) => {
    const r = await call('PUT', '/api/sandbox/messenger/faults', { profiles })
    if (r.status !== 200) throw new Error(`faults: ${r.status} ${JSON.stringify(r.body)}`)
  }
  const profiles = s.app.services.sending.profiles
  /** Nothing queued, waiting for a retry or in flight: no further profile request will be made. */
  const settled = () => until(async () => profiles.pending() === 0, 'profile fetches settled')
  // Stored sealed (issue 16): opened with the server's key.
  const pageToken = () =>
    s.app.services.secrets.open(
      (s.db.$client.prepare(`SELECT access_token AS t FROM channels WHERE kind = 'messenger'`).get() as { t: string }).t,
    )
  return { ...sb, say, profileRequests, faults, settled, pageToken }
}

t.test("a Messenger user's name replaces the PSID: over REST and live on the stream, asked for once", async (t) => {
  const sb = await sandbox(t)
  const stream = await connectSse(`${sb.s.url}/stream`, { token: sb.token })
  t.teardown(() => stream.close())

  const psid = await sb.user('Amara Okafor Bello')
  await sb.say(psid, 'Hi, is the blue jacket in stock?')
  await stream.waitFor((evs) =>
    evs.some(
      (e) =>
        e.event === 'conversation.updated' &&
        (JSON.parse(e.data) as { conversation: ConversationDTO }).conversation.contact.name === 'Amara Okafor Bello',
    ),
  )
  const live = stream
    .data<{ conversation: ConversationDTO }>('conversation.updated')
    .find((d) => d.conversation.contact.name === 'Amara Okafor Bello')!
  t.equal(live.conversation.contact.externalId, psid, 'the live update names the conversation of that PSID')
  t.equal(live.conversation.channelKind, 'messenger')
  const contactEvent = stream
    .data<{ contact: { id: number; name: string; profileName: string } }>('contact.updated')
    .find((d) => d.contact.id === live.conversation.contact.id)
  t.match(
    contactEvent?.contact,
    { name: 'Amara Okafor Bello', profileName: 'Amara Okafor Bello', kind: 'messenger' },
    'the contacts page hears it too',
  )

  const conv = await sb.conversationOf(psid)
  t.equal(conv.contact.name, 'Amara Okafor Bello', 'first_name + last_name, over REST')
  t.equal(conv.lastMessagePreview, 'Hi, is the blue jacket in stock?', 'the conversation itself is untouched')
  const contact = (await sb.call('GET', `/api/contacts/${conv.contact.id}`)).body.contact
  t.match(contact, { name: 'Amara Okafor Bello', profileName: 'Amara Okafor Bello', externalId: psid })

  // The name is known: later messages ask Meta nothing.
  await sb.say(psid, 'And in size M?')
  await sb.say(psid, 'Thanks!')
  await sb.settled()
  t.equal(await sb.profileRequests(psid), 1, 'one profile request for three messages')

  // The Page token went as a Bearer header, never in a URL (where it would land in logs).
  const token = sb.pageToken()
  type Req = { method: string; url: string; bearer: boolean }
  // Settings' credential check (GET /me, in the background) is the Page's other GET: wait for it, then count profile requests only.
  const requests = await until(async () => {
    const all = (await sb.call('GET', '/api/sandbox/messenger/requests')).body.requests as Req[]
    return all.some((r) => r.method === 'GET' && /\/me\?fields=id,name$/.test(r.url)) ? all : undefined
  }, 'the credential check')
  const gets = requests.filter((r) => r.method === 'GET' && !/\/me\?/.test(r.url))
  t.equal(gets.length, 1)
  t.match(gets[0]!.url, new RegExp(`/${psid}\\?fields=first_name,last_name$`))
  t.ok(
    gets.every((r) => r.bearer),
    'Bearer header',
  )
  t.notOk(
    requests.some((r) => r.url.includes(token) || r.url.includes(encodeURIComponent(token)) || r.url.includes('access_token')),
    'no token in any URL',
  )
})

t.test('the webhook is acknowledged without waiting for the profile; an agent-set name is never overwritten', async (t) => {
  const sb = await sandbox(t)
  // Meta is slow to answer profile requests: they are held until released.
  await sb.faults({ hold: true })
  const psid = await sb.user('Jonas Weber')
  await sb.say(psid, 'Hallo, where is my order?') // resolves on Parley's 200
  await until(async () => (await sb.profileRequests(psid)) === 1, 'the profile request reached the emulator')
  t.equal(sb.s.app.services.sending.profiles.pending(), 1, 'still unanswered while the webhook was acknowledged')
  const before = await sb.conversationOf(psid)
  t.equal(before.contact.name, null, 'the message is in the inbox under the PSID meanwhile')
  t.equal(before.lastMessagePreview, 'Hallo, where is my order?')

  // An agent names the contact while Meta has not answered.
  const renamed = await sb.call('PATCH', `/api/contacts/${before.contact.id}`, { name: 'Jonas (wholesale)' })
  t.equal(renamed.status, 200)
  await sb.say(psid, 'Order 1182') // a second message does not ask again while the first fetch is out
  t.equal((await sb.call('POST', '/api/sandbox/messenger/faults/release')).body.released, 1)
  await sb.settled()

  const contact = (await sb.call('GET', `/api/contacts/${before.contact.id}`)).body.contact
  t.equal(contact.name, 'Jonas (wholesale)', "the agent's name wins")
  t.equal(contact.profileName, 'Jonas Weber', "Meta's name is kept as the profile name")
  t.equal((await sb.conversationOf(psid)).contact.name, 'Jonas (wholesale)')
  t.equal(await sb.profileRequests(psid), 1, 'one fetch per contact at a time')

  // Named contacts are not asked about again.
  await sb.faults({ hold: false })
  await sb.say(psid, 'Any news?')
  await sb.settled()
  t.equal(await sb.profileRequests(psid), 1)
})

t.test('Meta refuses profile access: the PSID stays, and Parley does not ask for every message', async (t) => {
  const sb = await sandbox(t)
  // The app lacks "Business Asset User Profile Access": every profile request is refused.
  await sb.faults({ refuseCode: 230 })
  const ana = await sb.user('Ana Lima')
  await sb.say(ana, 'Olá')
  await sb.settled()
  t.equal(await sb.profileRequests(ana), 1)
  await sb.say(ana, 'Tem desconto?')
  await sb.say(ana, 'Obrigada')
  const ben = await sb.user('Ben Carter')
  await sb.say(ben, 'Hello')
  await sb.settled()
  t.equal(await sb.profileRequests(ana), 1, 'refused once, not asked again for her later messages')
  t.equal(await sb.profileRequests(ben), 0, "a refusal of the app's access is remembered for the whole Page")

  const conv = await sb.conversationOf(ana)
  t.equal(conv.contact.name, null, 'no name: the inbox shows the PSID as before')
  t.equal(conv.contact.externalId, ana)
  const msgs = (await sb.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as { text: string }[]
  t.same(
    msgs.map((m) => m.text),
    ['Olá', 'Tem desconto?', 'Obrigada'],
    'messaging keeps working',
  )
})

t.test("one person's profile refused (100) does not stop the others; transient errors are retried", async (t) => {
  const sb = await sandbox(t)
  const cy = await sb.user('Cy Twombly')
  // Cy's profile is not accessible (code 100).
  await sb.faults({ script: [{ error: 100 }] })
  await sb.say(cy, 'hi')
  await sb.settled()
  await sb.say(cy, 'hello?')
  await sb.settled()
  t.equal(await sb.profileRequests(cy), 1, 'a refused person is not asked about again')
  t.equal((await sb.conversationOf(cy)).contact.name, null)

  // Then Meta has a hiccup (500) and rate-limits the app (613) before it answers.
  await sb.faults({ script: [{ error: 1, httpStatus: 500 }, { error: 613 }] })
  const dee = await sb.user('Dee Dee')
  await sb.say(dee, 'hi there')
  await until(async () => (await sb.conversationOf(dee)).contact.name === 'Dee Dee', 'the name after retries')
  t.equal(await sb.profileRequests(dee), 3, 'a 5xx and a rate limit, each retried after a backoff, then the answer')
})

t.test('MESSENGER_FETCH_PROFILES=false: no profile requests, the PSID is shown', async (t) => {
  const sb = await sandbox(t, { MESSENGER_FETCH_PROFILES: 'false' })
  t.equal(sb.s.config.messenger.fetchProfiles, false)
  const psid = await sb.user('Eve Adams')
  await sb.say(psid, 'hi')
  await sb.settled()
  t.equal((await sb.stats()).profileRequests, 0)
  t.equal((await sb.conversationOf(psid)).contact.name, null)
})

t.test('the emulator answers the User Profile API like Meta: Bearer page token, errors for unknown PSIDs', async (t) => {
  const sb = await sandbox(t, { MESSENGER_FETCH_PROFILES: 'false' })
  const psid = await sb.user('Flo Rida Jones')
  const token = sb.pageToken()
  const graph = `${sb.s.url}/sandbox/graph/v23.0`
  const get = async (p: string, auth?: string) => {
    const res = await fetch(`${graph}/${p}`, { headers: auth ? { authorization: auth } : {} })
    return { status: res.status, body: (await res.json()) as any }
  }
  t.same((await get(`${psid}?fields=first_name,last_name`, `Bearer ${token}`)).body, {
    id: psid,
    first_name: 'Flo',
    last_name: 'Rida Jones',
  })
  const unknown = await get('7999999999999999?fields=first_name,last_name', `Bearer ${token}`)
  t.equal(unknown.status, 400)
  t.match(unknown.body, { error: { code: 100, error_subcode: 33, type: 'OAuthException' } })
  const badToken = await get(`${psid}?fields=first_name`, 'Bearer not-the-page-token')
  t.equal(badToken.status, 401)
  t.match(badToken.body, { error: { code: 190 } })
  const none = await get(`${psid}?fields=first_name`)
  t.match(none.body, { error: { code: 190 } }, 'no token, no profile')
})
