// Canned replies over real HTTP (issue 14): create, list, change and delete shared and
// personal replies; who may touch which (403 for an agent on a shared one, 404 for
// someone else's own); unique shortcuts (409); unknown variables refused on save and on
// render (422 UNKNOWN_VARIABLE, naming them); render scoped by the conversation's channel.
import t from 'tap'
import { ADMIN, apiCall, startServer, type ApiCall, type TestServer } from './helpers/server.ts'
import { pluck } from './helpers/sql-reads-pga.ts'
import { textWebhook } from './helpers/wa.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const PASSWORD = 'agent password 123'

async function setup(t: Parameters<typeof startServer>[0]) {
  const s: TestServer = await startServer(t)
  const admin = apiCall(s.url, (await s.login()).token)
  const services = s.app.services
  const ws = await services.auth.defaultWorkspace()
  const channelIds = await channelIdsOf(services, ws)
  const person = async (name: string, channels: number[]): Promise<{ id: number; call: ApiCall }> => {
    const email = `${name.toLowerCase()}@example.com`
    const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
    await setMembers(services, user.id, channels)
    return { id: user.id, call: apiCall(s.url, (await s.login({ email, password: PASSWORD })).token) }
  }
  const res = await s.webhook(textWebhook('4915100000001', 'Ana Sousa', 'hello').payload)
  if (res.status !== 200) throw new Error(`webhook ${res.status}`)
  const conv = (await admin('GET', '/api/conversations')).body.conversations[0] as { id: number; contact: { id: number } }
  const adminId = (await pluck<number>(s.sql, 'SELECT id FROM users WHERE email = ?', [ADMIN.email]))!
  return { s, admin, adminId, person, channelIds, conv }
}

t.test('create, list, change and delete; shared only by admins; others’ own are invisible', async (t) => {
  const { admin, adminId, person, channelIds } = await setup(t)
  const bea = await person('Bea', channelIds)
  const cai = await person('Cai', channelIds)

  const shared = await admin('POST', '/api/canned-replies', {
    shortcut: 'hours',
    text: 'We open 9–17, {{contact.first_name}}.',
    shared: true,
  })
  t.equal(shared.status, 201)
  t.match(shared.body.cannedReply, { shortcut: 'hours', text: 'We open 9–17, {{contact.first_name}}.', shared: true, ownerId: null })
  t.type(shared.body.cannedReply.id, 'number')
  t.type(shared.body.cannedReply.updatedAt, 'number')
  const adminOwn = await admin('POST', '/api/canned-replies', { shortcut: 'sig', text: 'Cheers, {{agent.name}}' })
  t.equal(adminOwn.status, 201)
  t.match(adminOwn.body.cannedReply, { shared: false, ownerId: adminId })

  const refused = await bea.call('POST', '/api/canned-replies', { shortcut: 'x', text: 'y', shared: true })
  t.equal(refused.status, 403, 'an agent cannot create a shared reply')
  t.equal(refused.body.error.code, 'FORBIDDEN')
  const mine = await bea.call('POST', '/api/canned-replies', { shortcut: '/Thanks', text: '  Thank you!  ' })
  t.equal(mine.status, 201)
  t.match(
    mine.body.cannedReply,
    { shortcut: 'Thanks', text: 'Thank you!', shared: false, ownerId: bea.id },
    'a leading / and spaces are trimmed',
  )
  await bea.call('POST', '/api/canned-replies', { shortcut: 'address', text: 'Rua Augusta 1' })

  const list = (await bea.call('GET', '/api/canned-replies')).body.cannedReplies as Array<{ shortcut: string; shared: boolean }>
  t.same(
    list.map((r) => r.shortcut),
    ['address', 'hours', 'Thanks'],
    'shared and her own, by shortcut; not the admin’s own',
  )
  t.same(
    ((await cai.call('GET', '/api/canned-replies')).body.cannedReplies as Array<{ shortcut: string }>).map((r) => r.shortcut),
    ['hours'],
  )
  t.same(
    ((await admin('GET', '/api/canned-replies')).body.cannedReplies as Array<{ shortcut: string }>).map((r) => r.shortcut),
    ['hours', 'sig'],
    'an admin sees the shared ones and their own, not an agent’s',
  )

  const id = mine.body.cannedReply.id as number
  const sharedId = shared.body.cannedReply.id as number
  // Someone else's own reply does not exist for them, admins included.
  for (const [who, call] of [
    ['Cai', cai.call],
    ['the admin', admin],
  ] as const) {
    t.equal((await call('PATCH', `/api/canned-replies/${id}`, { text: 'mine now' })).status, 404, `${who} cannot change it`)
    t.equal((await call('DELETE', `/api/canned-replies/${id}`)).status, 404, `${who} cannot delete it`)
  }
  t.equal((await bea.call('PATCH', `/api/canned-replies/${sharedId}`, { text: 'no' })).status, 403, 'an agent cannot change a shared one')
  t.equal((await bea.call('DELETE', `/api/canned-replies/${sharedId}`)).status, 403, 'nor delete it')
  t.equal((await bea.call('PATCH', `/api/canned-replies/${id}`, { shared: true })).status, 403, 'nor share her own')

  const changed = await bea.call('PATCH', `/api/canned-replies/${id}`, { text: 'Many thanks, {{contact.name | friend}}!' })
  t.equal(changed.status, 200)
  t.match(changed.body.cannedReply, { id, shortcut: 'Thanks', text: 'Many thanks, {{contact.name | friend}}!' })
  const adminChanged = await admin('PATCH', `/api/canned-replies/${sharedId}`, { shortcut: 'opening-hours' })
  t.equal(adminChanged.status, 200)
  t.equal(adminChanged.body.cannedReply.shortcut, 'opening-hours')
  // An admin moves their own reply to the team and back.
  const moved = await admin('PATCH', `/api/canned-replies/${adminOwn.body.cannedReply.id}`, { shared: true })
  t.match(moved.body.cannedReply, { shared: true, ownerId: null })
  t.ok(((await cai.call('GET', '/api/canned-replies')).body.cannedReplies as Array<{ shortcut: string }>).some((r) => r.shortcut === 'sig'))

  t.same((await bea.call('DELETE', `/api/canned-replies/${id}`)).body, { ok: true })
  t.equal((await bea.call('DELETE', `/api/canned-replies/${id}`)).status, 404, 'gone')
  t.equal((await admin('DELETE', `/api/canned-replies/${sharedId}`)).status, 200)
  t.same(
    ((await bea.call('GET', '/api/canned-replies')).body.cannedReplies as Array<{ shortcut: string }>).map((r) => r.shortcut),
    ['address', 'sig'],
  )
  t.equal((await bea.call('GET', '/api/canned-replies', undefined, null)).status, 401, 'a session is needed')
})

t.test('shortcuts: their form, and unique among the shared ones and one’s own (409)', async (t) => {
  const { admin, person, channelIds } = await setup(t)
  const bea = await person('Bea', channelIds)
  const cai = await person('Cai', channelIds)
  for (const shortcut of ['', 'two words', 'a'.repeat(33), 'ünïcode', 'semi;colon']) {
    const res = await bea.call('POST', '/api/canned-replies', { shortcut, text: 'x' })
    t.equal(res.status, 400, `"${shortcut}" is refused`)
    t.equal(res.body.error.code, 'CANNED_REPLY_INVALID')
  }
  for (const text of ['', '   ', 'x'.repeat(4097)]) {
    t.equal((await bea.call('POST', '/api/canned-replies', { shortcut: 'ok', text })).body.error.code, 'CANNED_REPLY_INVALID')
  }
  t.equal((await bea.call('POST', '/api/canned-replies', { shortcut: 'ok', text: 'x'.repeat(4096) })).status, 201, '4096 characters fit')
  t.equal((await bea.call('POST', '/api/canned-replies', { shortcut: 'A-z_09', text: 'x' })).status, 201, 'letters, digits, - and _')

  t.equal((await admin('POST', '/api/canned-replies', { shortcut: 'hello', text: 'Hello!', shared: true })).status, 201)
  const clash = await bea.call('POST', '/api/canned-replies', { shortcut: 'HELLO', text: 'Hi' })
  t.equal(clash.status, 409, 'a personal one cannot take a shared shortcut (case-insensitively)')
  t.equal(clash.body.error.code, 'SHORTCUT_EXISTS')
  t.equal((await bea.call('POST', '/api/canned-replies', { shortcut: 'ok', text: 'again' })).status, 409, 'nor one of her own')
  t.equal((await cai.call('POST', '/api/canned-replies', { shortcut: 'ok', text: 'his' })).status, 201, 'another person may use it')
  t.equal((await admin('POST', '/api/canned-replies', { shortcut: 'Hello', text: 'x', shared: true })).body.error.code, 'SHORTCUT_EXISTS')
  const other = await bea.call('POST', '/api/canned-replies', { shortcut: 'bye', text: 'Bye' })
  t.equal((await bea.call('PATCH', `/api/canned-replies/${other.body.cannedReply.id}`, { shortcut: 'ok' })).status, 409, 'a rename too')
  t.equal(
    (await bea.call('PATCH', `/api/canned-replies/${other.body.cannedReply.id}`, { shortcut: 'BYE' })).status,
    200,
    'its own name is free',
  )
  t.equal((await bea.call('PATCH', '/api/canned-replies/999999', { text: 'x' })).status, 404)
})

t.test('unknown variables: 422 UNKNOWN_VARIABLE on save, naming them; attributes some contact has are known', async (t) => {
  const { s, admin, conv, person, channelIds } = await setup(t)
  const bea = await person('Bea', channelIds)
  const res = await bea.call('POST', '/api/canned-replies', { shortcut: 'total', text: 'Your total is {{order.total}} {{ agent.email }}' })
  t.equal(res.status, 422)
  t.equal(res.body.error.code, 'UNKNOWN_VARIABLE')
  t.match(res.body.error.message, /\{\{order\.total\}\}, \{\{agent\.email\}\}/, 'the message names each one')
  const open = await bea.call('POST', '/api/canned-replies', { shortcut: 'open', text: 'Hi {{contact.name' })
  t.equal(open.status, 422, 'a variable never closed')
  t.match(open.body.error.message, /\{\{contact\.name \(not closed with \}\}\)/)
  t.equal(
    (await bea.call('POST', '/api/canned-replies', { shortcut: 'tier', text: 'Tier {{contact.tier}}' })).status,
    422,
    'no contact has it',
  )

  t.equal((await admin('PATCH', `/api/contacts/${conv.contact.id}`, { attributes: { tier: 'gold' } })).status, 200)
  const tier = await bea.call('POST', '/api/canned-replies', { shortcut: 'tier', text: 'Tier {{contact.tier}}' })
  t.equal(tier.status, 201, 'once a contact has the attribute it is a variable')
  const vars = (await bea.call('GET', '/api/canned-replies/variables')).body
  t.same(vars, { variables: ['contact.first_name', 'contact.name', 'contact.phone', 'agent.name'], attributes: ['tier'] })
  const id = tier.body.cannedReply.id as number
  t.equal((await bea.call('PATCH', `/api/canned-replies/${id}`, { text: '{{order.total}}' })).status, 422, 'on change too')

  // Render refuses what save would: an attribute no contact has any more, a row written before a rule changed.
  t.equal((await admin('PATCH', `/api/contacts/${conv.contact.id}`, { attributes: {} })).status, 200)
  const gone = await bea.call('POST', '/api/canned-replies/render', { id, conversationId: conv.id })
  t.equal(gone.status, 422)
  t.equal(gone.body.error.code, 'UNKNOWN_VARIABLE')
  t.match(gone.body.error.message, /\{\{contact\.tier\}\}/)
  const old = (await pluck<number>(
    s.sql,
    `INSERT INTO canned_replies(workspace_id, owner_id, shortcut, text) VALUES (?, NULL, 'old', 'Total: {{order.total}}') RETURNING id`,
    [await s.app.services.auth.defaultWorkspace()],
  ))!
  const stale = await bea.call('POST', '/api/canned-replies/render', { id: old, conversationId: conv.id })
  t.equal(stale.status, 422)
  t.match(stale.body.error, { code: 'UNKNOWN_VARIABLE', message: /\{\{order\.total\}\}/ })
})

t.test('render: the conversation’s contact and the caller; missing values listed; scoped by channel', async (t) => {
  const { admin, conv, person, channelIds } = await setup(t)
  const bea = await person('Bea Marques', channelIds)
  const outsider = await person('Dan', [])
  await admin('PATCH', `/api/contacts/${conv.contact.id}`, { attributes: { tier: 'gold' } })
  const shared = await admin('POST', '/api/canned-replies', {
    shortcut: 'hi',
    text: 'Hi {{contact.first_name}} ({{contact.name}}, {{contact.phone}}), {{agent.name}} here. Tier {{ contact.tier }}.',
    shared: true,
  })
  const id = shared.body.cannedReply.id as number
  const out = await bea.call('POST', '/api/canned-replies/render', { id, conversationId: conv.id })
  t.equal(out.status, 200)
  t.same(out.body, { text: 'Hi Ana (Ana Sousa, 4915100000001), Bea Marques here. Tier gold.', missing: [] })

  await admin('PATCH', `/api/contacts/${conv.contact.id}`, { name: null, attributes: { tier: '' } })
  await admin('PATCH', `/api/contacts/${conv.contact.id}`, { attributes: { city: 'Porto' } })
  const fallback = await admin('POST', '/api/canned-replies', {
    shortcut: 'fb',
    text: 'Dear {{contact.first_name | customer}}{{contact.tier}}!',
  })
  t.equal(fallback.status, 422, 'tier is no longer any contact’s attribute')
  const ok = await admin('POST', '/api/canned-replies', {
    shortcut: 'fb',
    text: 'Dear {{contact.first_name | customer}}, {{contact.city}}{{agent.name}}',
  })
  t.equal(ok.status, 201)

  const res = await admin('POST', '/api/canned-replies/render', { id: ok.body.cannedReply.id, conversationId: conv.id })
  t.same(res.body, { text: 'Dear Ana, PortoAdmin', missing: [] }, 'the profile name stands in for a cleared name')

  const scoped = await outsider.call('POST', '/api/canned-replies/render', { id, conversationId: conv.id })
  t.equal(scoped.status, 404, 'a conversation outside the caller’s channels')
  t.equal(scoped.body.error.code, 'NOT_FOUND')
  t.equal((await bea.call('POST', '/api/canned-replies/render', { id, conversationId: 999999 })).status, 404, 'no such conversation')
  t.equal(
    (await bea.call('POST', '/api/canned-replies/render', { id: ok.body.cannedReply.id, conversationId: conv.id })).status,
    404,
    'the admin’s own reply',
  )
  t.equal((await bea.call('POST', '/api/canned-replies/render', { id: 'x', conversationId: conv.id })).status, 400)
})

t.test('render lists a known variable with no value and no fallback as missing', async (t) => {
  const { s, admin, conv } = await setup(t)
  // The contact loses both its names (a Messenger contact before its profile arrives looks like this).
  await s.sql.run('UPDATE contacts SET name = NULL, profile_name = NULL WHERE id = ?', [conv.contact.id])
  const r = await admin('POST', '/api/canned-replies', {
    shortcut: 'x',
    text: 'Hi {{contact.first_name}}{{contact.name | there}}, {{contact.name}}.',
  })
  const out = await admin('POST', '/api/canned-replies/render', { id: r.body.cannedReply.id, conversationId: conv.id })
  t.equal(out.status, 200)
  t.same(out.body, { text: 'Hi there, .', missing: ['contact.first_name', 'contact.name'] })
})
