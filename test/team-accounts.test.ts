// The team's rules over real HTTP and real SSE (issue 13): an agent gets 403 on every
// admin route; the last active admin stays; deactivation ends the person's sessions and
// closes their open stream within a second; a password change signs out the person's
// other sessions but not the one that made it; availability; an admin's reset link.
import t from 'tap'
import { apiCall, type TestLike } from './helpers/server.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'
import { teamServer } from './helpers/team-fixtures.ts'

const AGENT = { email: 'agent@example.com', password: 'agent password 1' }

/** The team server and one agent who joined through an invitation (their first session's token). */
async function withAgent(t: TestLike) {
  const { s, api, adminToken } = await teamServer(t)
  const inv = (await api('POST', '/api/users/invitations', { email: AGENT.email, role: 'agent', channelIds: [] })).body.invitation
  const token = new URL(inv.url).hash.replace('#token=', '')
  const acc = await apiCall(s.url, '')('POST', '/api/invitations/accept', { token, name: 'Agent', password: AGENT.password }, null)
  if (acc.status !== 201) throw new Error(`accept: ${acc.status}`)
  return { s, api, adminToken, agentId: acc.body.user.id as number, agentToken: acc.body.token as string }
}

/** Resolves when the stream closes; fails the test past `ms`. */
async function closesWithin(sse: SseClient, ms: number): Promise<number> {
  const start = Date.now()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    sse.closed,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`stream still open after ${ms} ms`)), ms))),
  ])
  clearTimeout(timer)
  return Date.now() - start
}

t.test('an agent gets 403 on every admin route; reads stay allowed', async (t) => {
  const { s, agentToken, agentId } = await withAgent(t)
  const agent = apiCall(s.url, agentToken)
  const campaign = { name: 'x', template: { name: 't', language: 'en' }, params: { body: {}, header: {} }, audience: { kind: 'all' } }
  const adminRoutes: Array<[string, string, unknown?]> = [
    ['GET', '/api/users'],
    ['PATCH', `/api/users/${agentId}`, { role: 'admin' }],
    ['PATCH', '/api/users/1', { disabled: true }],
    ['POST', '/api/users/1/password-reset', {}],
    ['POST', '/api/users/invitations', { email: 'z@example.com', role: 'admin', channelIds: [] }],
    ['GET', '/api/users/invitations'],
    ['DELETE', '/api/users/invitations/1'],
    ['GET', '/api/channels/verify-token'],
    ['POST', '/api/channels', { kind: 'whatsapp', externalId: '123', name: 'x' }],
    ['PATCH', '/api/channels/1', { name: 'x' }],
    ['POST', '/api/campaigns', campaign],
    ['PUT', '/api/campaigns/1', campaign],
    ['POST', '/api/campaigns/1/start', {}],
    ['POST', '/api/campaigns/1/pause', {}],
    ['POST', '/api/campaigns/1/resume', {}],
    ['POST', '/api/campaigns/1/cancel', {}],
    ['POST', '/api/campaigns/1/retry-unconfirmed', {}],
    ['POST', '/api/campaigns/1/follow-up', { filter: 'failed' }],
    // An invalid body is still a 403: the role is checked before the schema.
    ['POST', '/api/campaigns', { nonsense: true }],
  ]
  for (const [method, path, body] of adminRoutes) {
    const r = await agent(method, path, body)
    t.equal(r.status, 403, `${method} ${path} → 403`)
    t.equal(r.body?.error?.code, 'FORBIDDEN')
  }
  t.equal((await agent('GET', '/api/campaigns')).status, 200, 'campaigns can be read')
  t.equal((await agent('GET', '/api/channels')).status, 200, 'channels can be listed')
  t.equal((await agent('GET', '/api/contacts')).status, 200, 'contacts can be read')
  t.equal((await agent('PUT', '/api/me/availability', { status: 'busy' })).status, 200, 'their own availability')
  // Still an agent, nothing changed by the refused calls.
  t.equal((await agent('GET', '/api/me')).body.user.role, 'agent')
})

t.test('the last active admin can be neither demoted nor deactivated', async (t) => {
  const { s, api, agentId } = await withAgent(t)
  const me = (await api('GET', '/api/me')).body.user.id as number
  for (const patch of [{ role: 'agent' }, { disabled: true }]) {
    const r = await api('PATCH', `/api/users/${me}`, patch)
    t.equal(r.status, 409, `${JSON.stringify(patch)} → 409`)
    t.equal(r.body.error.code, 'LAST_ADMIN')
  }
  // With a second admin, the first may step down — and then the second is the last one.
  t.equal((await api('PATCH', `/api/users/${agentId}`, { role: 'admin' })).body.user.role, 'admin')
  const down = await api('PATCH', `/api/users/${me}`, { role: 'agent' })
  t.equal(down.status, 200)
  t.equal(down.body.user.role, 'agent')
  const agentNowAdmin = apiCall(s.url, (await s.login(AGENT)).token)
  const r = await agentNowAdmin('PATCH', `/api/users/${agentId}`, { disabled: true })
  t.equal(r.body.error.code, 'LAST_ADMIN', 'the other admin is now the last one')
  // The demoted first admin lost admin routes at once (the role is read per request).
  t.equal((await api('GET', '/api/users')).status, 403)
  // A deactivated admin does not count as active.
  t.equal((await agentNowAdmin('PATCH', `/api/users/${me}`, { role: 'admin' })).status, 200)
  t.equal((await agentNowAdmin('PATCH', `/api/users/${me}`, { disabled: true })).status, 200)
  t.equal((await agentNowAdmin('PATCH', `/api/users/${agentId}`, { role: 'agent' })).body.error.code, 'LAST_ADMIN')
  t.equal((await agentNowAdmin('PATCH', '/api/users/9999', { role: 'agent' })).status, 404, 'nobody by that id')
})

t.test('deactivation closes the person’s stream within a second; their token stops; reactivation lets them sign in', async (t) => {
  const { s, api, agentId, agentToken, adminToken } = await withAgent(t)
  const agentStream = await connectSse(`${s.url}/stream`, { token: agentToken })
  t.equal(agentStream.status, 200)
  const adminStream = await connectSse(`${s.url}/stream`, { token: adminToken })

  const r = await api('PATCH', `/api/users/${agentId}`, { disabled: true })
  t.equal(r.status, 200)
  t.equal(r.body.user.disabled, true)
  const ms = await closesWithin(agentStream, 1000)
  t.ok(ms < 1000, `closed in ${ms} ms`)
  t.equal((await apiCall(s.url, agentToken)('GET', '/api/me')).status, 401, 'their token stops working')
  await t.rejects(s.login(AGENT), 'a deactivated person cannot sign in')
  await adminStream.waitFor((evs) => evs.some((e) => e.event === 'user.updated' && JSON.parse(e.data).user.id === agentId))
  t.notOk(adminStream.isClosed(), 'nobody else’s stream closes')
  t.match(
    (await api('GET', '/api/users')).body.users.find((u: { id: number }) => u.id === agentId),
    { disabled: true, email: AGENT.email },
    'still listed: their history stays theirs',
  )

  t.equal((await api('PATCH', `/api/users/${agentId}`, { disabled: false })).body.user.disabled, false)
  t.equal((await apiCall(s.url, agentToken)('GET', '/api/me')).status, 401, 'old sessions stay ended')
  await s.login(AGENT)
  adminStream.close()
})

t.test('an admin sets someone’s channels; unknown channels are refused', async (t) => {
  const { s, api, agentId } = await withAgent(t)
  const created = await api('POST', '/api/channels', { kind: 'messenger', externalId: '555000111', name: 'Shop page' })
  t.equal(created.status, 201)
  const pageId = created.body.channel.id as number
  const waId = (await api('GET', '/api/channels')).body.channels.find((c: { kind: string }) => c.kind === 'whatsapp').id as number
  const set = await api('PATCH', `/api/users/${agentId}`, { channelIds: [pageId, waId, pageId] })
  t.equal(set.status, 200)
  t.same(
    set.body.user.channelIds,
    [waId, pageId].sort((a, b) => a - b),
  )
  t.same((await api('PATCH', `/api/users/${agentId}`, { channelIds: [pageId] })).body.user.channelIds, [pageId], 'replaced, not added')
  const { members, units } = s.app.services
  t.same(await units.read(() => members.membersOf(pageId)), [agentId], 'the repository answers both ways')
  t.same(await units.read(() => members.membersOf(waId)), [])
  t.same(await units.read(() => members.channelIdsOf(agentId)), [pageId])
  const bad = await api('PATCH', `/api/users/${agentId}`, { channelIds: [pageId, 424242] })
  t.equal(bad.status, 400)
  t.equal(bad.body.error.code, 'UNKNOWN_CHANNEL')
  t.same((await api('GET', '/api/users')).body.users.find((u: { id: number }) => u.id === agentId).channelIds, [pageId], 'unchanged')
})

t.test('a password change signs out the person’s other sessions, not this one', async (t) => {
  const { s, agentToken } = await withAgent(t)
  const other = await s.login(AGENT)
  const otherStream = await connectSse(`${s.url}/stream`, { token: other.token })
  const thisStream = await connectSse(`${s.url}/stream`, { token: agentToken })
  const me = apiCall(s.url, agentToken)

  t.equal((await me('PATCH', '/api/me', { password: 'a new password' })).body.error.code, 'CURRENT_PASSWORD_REQUIRED')
  const wrong = await me('PATCH', '/api/me', { password: 'a new password', currentPassword: 'not it at all' })
  t.equal(wrong.status, 403)
  t.equal(wrong.body.error.code, 'CURRENT_PASSWORD_WRONG')
  t.equal((await me('PATCH', '/api/me', { password: 'short', currentPassword: AGENT.password })).body.error.code, 'PASSWORD_INVALID')
  t.equal((await apiCall(s.url, other.token)('GET', '/api/me')).status, 200, 'refused attempts change nothing')

  const ok = await me('PATCH', '/api/me', { password: 'a new password', currentPassword: AGENT.password, name: '  Agent Smith ' })
  t.equal(ok.status, 200)
  t.equal(ok.body.user.name, 'Agent Smith')
  t.equal(ok.body.sessionsEnded, 1)
  await closesWithin(otherStream, 1000)
  t.equal((await apiCall(s.url, other.token)('GET', '/api/me')).status, 401, 'the other session ended')
  t.equal((await me('GET', '/api/me')).status, 200, 'this session stays')
  t.notOk(thisStream.isClosed(), 'this session’s stream stays open')
  await t.rejects(s.login(AGENT), 'the old password no longer works')
  await s.login({ email: AGENT.email, password: 'a new password' })
  t.equal((await me('PATCH', '/api/me', { name: '   ' })).status, 400, 'a blank name is refused')
  thisStream.close()
})

t.test('availability: online, busy, away; evented as user.updated', async (t) => {
  const { s, agentToken, adminToken, agentId } = await withAgent(t)
  const adminStream = await connectSse(`${s.url}/stream`, { token: adminToken })
  const me = apiCall(s.url, agentToken)
  const r = await me('PUT', '/api/me/availability', { status: 'away' })
  t.equal(r.status, 200)
  t.match(r.body.user, { id: agentId, availability: 'away' })
  t.equal((await me('PUT', '/api/me/availability', { status: 'sleeping' })).status, 400)
  await adminStream.waitFor((evs) => evs.some((e) => e.event === 'user.updated' && JSON.parse(e.data).user.availability === 'away'))
  t.equal(
    (await apiCall(s.url, adminToken)('GET', '/api/users')).body.users.find((u: { id: number }) => u.id === agentId).availability,
    'away',
  )
  adminStream.close()
})

t.test('without SMTP an admin issues a reset link for an agent', async (t) => {
  const { s, api, agentId } = await withAgent(t)
  const r = await api('POST', `/api/users/${agentId}/password-reset`, {})
  t.equal(r.status, 201)
  t.match(r.body.url, new RegExp(`^${s.url}/reset-password#token=`))
  t.ok(r.body.expiresAt > Date.now() + 50 * 60_000, 'valid about an hour')
  const token = new URL(r.body.url).hash.replace('#token=', '')
  t.equal((await apiCall(s.url, '')('POST', '/api/password-reset', { token, password: 'reset by admin' }, null)).status, 200)
  await s.login({ email: AGENT.email, password: 'reset by admin' })
  t.equal((await api('POST', '/api/users/999/password-reset', {})).status, 404)
})

t.test("a channel's members set from its settings: each person's channels follow, refused for strangers", async (t) => {
  const { s, api, addAgent } = await teamServer(t)
  const ana = await addAgent('Ana', 'ana.members@example.com')
  const ben = await addAgent('Ben', 'ben.members@example.com')
  const channelId = ((await api('GET', '/api/channels')).body.channels[0] as { id: number }).id
  const set = await api('PATCH', `/api/channels/${channelId}`, { members: [ben.id, ana.id] })
  t.equal(set.status, 200)
  t.same(set.body.channel.members, [ana.id, ben.id])
  const channelsOf = (userId: number) => s.app.services.units.read(() => s.app.services.members.channelIdsOf(userId))
  t.same(await channelsOf(ana.id), [channelId])
  const users = (await api('GET', '/api/users')).body.users as { id: number; channelIds: number[] }[]
  t.same(users.find((u) => u.id === ben.id)?.channelIds, [channelId], "the people list shows Ben's channel")
  const fewer = await api('PATCH', `/api/channels/${channelId}`, { members: [ana.id] })
  t.same(fewer.body.channel.members, [ana.id])
  t.same(await channelsOf(ben.id), [], 'Ben is no longer a member')
  t.equal((await api('PATCH', `/api/channels/${channelId}`, { members: [999_999] })).status, 404, 'an unknown person is refused')
  t.same(await channelsOf(ana.id), [channelId], 'nothing changed by the refused call')
})

t.test('everyone may read the teammates (names for the assignee picker), without emails or deactivated people', async (t) => {
  const { s, api, addAgent, tokenOf } = await teamServer(t)
  const ana = await addAgent('Ana', 'ana.team@example.com')
  const gone = await addAgent('Gone', 'gone.team@example.com')
  t.equal((await api('PATCH', `/api/users/${gone.id}`, { disabled: true })).status, 200)
  const asAna = apiCall(s.url, await tokenOf('ana.team@example.com'))
  const res = await asAna('GET', '/api/team')
  t.equal(res.status, 200)
  const people = res.body.people as Record<string, unknown>[]
  t.same(people.map((p) => p.name).sort(), ['Admin', 'Ana'].sort(), 'active people only')
  t.ok(
    people.every((p) => !('email' in p)),
    'no emails',
  )
  t.match(
    people.find((p) => p.id === ana.id),
    { name: 'Ana', role: 'agent', channelIds: [], availability: 'online' },
  )
  t.equal((await asAna('GET', '/api/users')).status, 403, 'the people list stays the admins’')
})

t.test('a change of channels applies to the person’s open stream at once: reset, then only what they may now see', async (t) => {
  const { s, api, addAgent, tokenOf } = await teamServer(t)
  const ana = await addAgent('Ana', 'ana.reset@example.com')
  const channelId = ((await api('GET', '/api/channels')).body.channels[0] as { id: number }).id
  const anaToken = await tokenOf('ana.reset@example.com')
  const stream = await connectSse(`${s.url}/stream`, { token: anaToken })
  t.teardown(() => stream.close())

  t.equal((await api('PATCH', `/api/users/${ana.id}`, { channelIds: [channelId] })).status, 200)
  await stream.waitFor((evs) => evs.some((e) => e.event === 'reset' && JSON.parse(e.data).reason === 'access_changed'))
  // Now a member: a customer of that channel reaches her on the same stream.
  await s.webhook(textWebhook('4915100000077', 'Lena', 'for the channel').payload)
  await stream.waitFor((evs) => evs.some((e) => e.event === 'message.created' && JSON.parse(e.data).message.text === 'for the channel'))
  t.pass('the new channel arrives on the stream that was open')
})
