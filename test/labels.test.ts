// Labels (issue 14) over real HTTP: admins define them (name, colour) with named refusals;
// anyone who can see a conversation sets them, idempotently, without marking anything
// unread or moving it in the list; the list filters by label (paged, composed with the
// other filters); another channel's conversation answers 404 and another workspace's
// labels are indistinguishable from labels that do not exist.
import t from 'tap'
import type { TestLike } from './helpers/server.ts'
import { pluck, pluckAll } from './helpers/sql-reads-pga.ts'
import { otherWorkspaceAdmin, twoChannelServer } from './helpers/team-fixtures.ts'
import type { ConversationDTO, LabelRef } from '../src/events/types.ts'

/** A workspace with two WhatsApp numbers, X (the configured one) and Y. */
async function workspace(t: TestLike) {
  const { s, api: call, first: x, second: y, agent, customerWrites } = await twoChannelServer(t)
  const write = (from: string, body: string, on: 'x' | 'y' = 'x') =>
    customerWrites(from, `Customer ${from.slice(-4)}`, body, on === 'x' ? 'first' : 'second')
  const convOf = async (from: string) =>
    (await pluck<number>(s.sql, 'SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ?', [from]))!
  const eventCount = async (type: string) => (await pluck<number>(s.sql, 'SELECT count(*) FROM events WHERE type = ?', [type]))!
  /** An admin of a second workspace, with a label of its own. */
  const otherWorkspace = async () => {
    const { call: theirs } = await otherWorkspaceAdmin(s)
    const label = (await theirs('POST', '/api/labels', { name: 'Secret project', color: '#000000' })).body.label as LabelRef
    return { call: theirs, label }
  }
  return { s, call, x, y, agent, write, convOf, eventCount, otherWorkspace }
}

const ids = (list: ConversationDTO[]) => list.map((c) => c.id)

t.test('admins create, list, rename, recolour and delete labels; each change is one labels.changed', async (t) => {
  const { s, call, write, convOf, eventCount } = await workspace(t)
  const created = await call('POST', '/api/labels', { name: '  VIP   customer ', color: '#2563EB' })
  t.equal(created.status, 201)
  const vip = created.body.label as LabelRef
  t.same(vip, { id: vip.id, name: 'VIP customer', color: '#2563eb' }, 'trimmed, inner spaces made one, colour in lower case')
  const refund = (await call('POST', '/api/labels', { name: 'Refund', color: '#dc2626' })).body.label as LabelRef
  t.equal(await eventCount('labels.changed'), 2)

  const list = await call('GET', '/api/labels')
  t.equal(list.status, 200)
  t.same(list.body.labels, [refund, vip], 'by name')
  t.match(list.body.eventId, /^.+:\d+$/, 'with the stream position it is current to')

  const renamed = await call('PATCH', `/api/labels/${vip.id}`, { name: 'VIP' })
  t.equal(renamed.status, 200)
  t.same(renamed.body.label, { id: vip.id, name: 'VIP', color: '#2563eb' })
  const recoloured = await call('PATCH', `/api/labels/${vip.id}`, { color: '#16a34a' })
  t.same(recoloured.body.label, { id: vip.id, name: 'VIP', color: '#16a34a' })
  t.equal(await eventCount('labels.changed'), 4)
  const same = await call('PATCH', `/api/labels/${vip.id}`, { name: 'VIP', color: '#16A34A' })
  t.equal(same.status, 200)
  t.equal(await eventCount('labels.changed'), 4, 'nothing changed: no event')
  const lastPayload = JSON.parse(
    (await pluck<string>(s.sql, `SELECT payload FROM events WHERE type = 'labels.changed' ORDER BY id DESC LIMIT 1`))!,
  )
  t.same(lastPayload, { labels: [refund, { id: vip.id, name: 'VIP', color: '#16a34a' }] }, 'the event carries the whole list')
  const audience = await s.sql.get(
    `SELECT channel_id AS "channelId", user_id AS "userId" FROM events WHERE type = 'labels.changed' ORDER BY id DESC LIMIT 1`,
  )
  t.same(audience, { channelId: null, userId: null }, 'for the whole workspace')

  // A conversation carrying the label: its DTO names it with the new name; deleting takes it off.
  await write('15550001111', 'Hello')
  const c = await convOf('15550001111')
  t.equal((await call('PUT', `/api/conversations/${c}/labels`, { labelIds: [vip.id, refund.id] })).status, 200)
  t.same(((await call('GET', `/api/conversations/${c}`)).body.conversation as ConversationDTO).labels, [
    refund,
    { id: vip.id, name: 'VIP', color: '#16a34a' },
  ])
  const updatesBefore = await eventCount('conversation.updated')
  const del = await call('DELETE', `/api/labels/${vip.id}`)
  t.equal(del.status, 204)
  t.same((await call('GET', '/api/labels')).body.labels, [refund])
  t.same(((await call('GET', `/api/conversations/${c}`)).body.conversation as ConversationDTO).labels, [refund], 'off the conversation')
  t.equal(await pluck(s.sql, 'SELECT count(*) FROM conversation_labels WHERE label_id = ?', [vip.id]), 0)
  t.equal(await eventCount('labels.changed'), 5)
  t.equal(
    await eventCount('conversation.updated'),
    updatesBefore,
    'clients apply labels.changed to the chips they hold: no event per conversation',
  )
  t.equal((await call('DELETE', `/api/labels/${vip.id}`)).status, 404, 'gone')
  t.equal((await call('PATCH', `/api/labels/${vip.id}`, { name: 'Again' })).status, 404)
})

t.test('agents read the labels but cannot define them: 403', async (t) => {
  const { call, x, agent, eventCount } = await workspace(t)
  const vip = (await call('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label as LabelRef
  const ana = await agent('Ana', [x])
  const list = await ana.call('GET', '/api/labels')
  t.equal(list.status, 200)
  t.same(list.body.labels, [vip])
  for (const [method, path, body] of [
    ['POST', '/api/labels', { name: 'Mine', color: '#000000' }],
    ['PATCH', `/api/labels/${vip.id}`, { name: 'Renamed' }],
    ['DELETE', `/api/labels/${vip.id}`, undefined],
  ] as const) {
    const res = await ana.call(method, path, body)
    t.equal(res.status, 403, `${method} ${path}`)
    t.equal(res.body.error.code, 'FORBIDDEN')
  }
  t.same((await call('GET', '/api/labels')).body.labels, [vip], 'unchanged')
  t.equal(await eventCount('labels.changed'), 1)
  t.equal((await ana.call('GET', '/api/labels', undefined, null)).status, 401, 'signed out: 401')
})

t.test('validation: named codes for a bad name, a bad colour, a taken name', async (t) => {
  const { s, call, eventCount } = await workspace(t)
  const bad = async (body: unknown, status: number, code: string, what: string) => {
    const res = await call('POST', '/api/labels', body)
    t.equal(res.status, status, what)
    t.equal(res.body?.error?.code, code, what)
    t.type(res.body?.error?.message, 'string')
  }
  await bad({ name: '   ', color: '#112233' }, 422, 'LABEL_NAME_INVALID', 'blank name')
  await bad({ name: 'x'.repeat(41), color: '#112233' }, 422, 'LABEL_NAME_INVALID', '41 characters')
  await bad({ name: 'two\nlines', color: '#112233' }, 422, 'LABEL_NAME_INVALID', 'a line break')
  for (const color of ['red', '#abc', '#GGGGGG', '2563eb', '#2563eb0', ' ', 'rgb(1,2,3)']) {
    await bad({ name: 'Fine', color }, 422, 'LABEL_COLOR_INVALID', `colour ${JSON.stringify(color)}`)
  }
  await bad({ name: 'No colour' }, 400, 'VALIDATION_FAILED', 'missing colour')
  await bad({ color: '#112233' }, 400, 'VALIDATION_FAILED', 'missing name')
  await bad({ name: { text: 'VIP' }, color: '#112233' }, 400, 'VALIDATION_FAILED', 'an object as name')
  t.equal(await eventCount('labels.changed'), 0, 'nothing was created')

  const forty = 'é'.repeat(40)
  t.equal((await call('POST', '/api/labels', { name: forty, color: '#112233' })).status, 201, '40 characters (not bytes) is fine')
  const vip = (await call('POST', '/api/labels', { name: 'VIP', color: '#112233' })).body.label as LabelRef
  await bad({ name: 'vip', color: '#445566' }, 409, 'LABEL_EXISTS', 'the same name in another case')
  await bad({ name: ' VIP ', color: '#445566' }, 409, 'LABEL_EXISTS', 'the same name with spaces')
  await bad({ name: forty.toUpperCase(), color: '#445566' }, 409, 'LABEL_EXISTS', 'case folded beyond ASCII')
  const other = (await call('POST', '/api/labels', { name: 'Other', color: '#445566' })).body.label as LabelRef

  const clash = await call('PATCH', `/api/labels/${other.id}`, { name: 'Vip' })
  t.equal(clash.status, 409)
  t.equal(clash.body.error.code, 'LABEL_EXISTS')
  const recase = await call('PATCH', `/api/labels/${vip.id}`, { name: 'Vip' })
  t.equal(recase.status, 200, 'its own name in another case is a rename')
  t.equal(recase.body.label.name, 'Vip')
  const badColour = await call('PATCH', `/api/labels/${vip.id}`, { color: 'blue' })
  t.equal(badColour.status, 422)
  t.equal(badColour.body.error.code, 'LABEL_COLOR_INVALID')
  const blank = await call('PATCH', `/api/labels/${vip.id}`, { name: '' })
  t.equal(blank.body.error.code, 'LABEL_NAME_INVALID')
  t.equal((await call('PATCH', '/api/labels/999999', { name: 'Nope' })).status, 404)

  // At most 200 per workspace.
  const ws = await s.app.services.auth.defaultWorkspace()
  const { store } = s.app.services
  const { units } = s.app.services
  const have = await units.read(() => store.labels.count(ws))
  for (let i = have; i < 200; i++) await units.transact(() => store.labels.insert(ws, `Filler ${i}`, '#000000', Date.now()))
  const full = await call('POST', '/api/labels', { name: 'One too many', color: '#000000' })
  t.equal(full.status, 409)
  t.equal(full.body.error.code, 'LABEL_LIMIT')
  t.equal((await call('PATCH', '/api/labels/abc', { name: 'Nope' })).status, 400)
})

t.test('setting labels: idempotent, and never touches unread, waiting, order or preview', async (t) => {
  const { call, x, agent, write, convOf, eventCount } = await workspace(t)
  const vip = (await call('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label as LabelRef
  const refund = (await call('POST', '/api/labels', { name: 'Refund', color: '#dc2626' })).body.label as LabelRef
  const ana = await agent('Ana', [x])
  const ben = await agent('Ben', [x])
  await write('15550001111', 'first one')
  await write('15550002222', 'second one')
  await write('15550002222', 'second again')
  await write('15550003333', 'third, newest')
  const older = await convOf('15550001111')
  const c = await convOf('15550002222')
  const benList = async () => (await ben.call('GET', '/api/conversations')).body.conversations as ConversationDTO[]
  const before = await benList()
  const beforeOne = before.find((v) => v.id === c)!
  t.equal(beforeOne.unreadCount, 2)

  const res = await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: [vip.id, refund.id, vip.id] })
  t.equal(res.status, 200)
  const conv = res.body.conversation as ConversationDTO
  t.same(conv.labels, [refund, vip], 'both, by name, once')
  t.equal(await eventCount('conversation.updated'), 1)

  const after = await benList()
  t.same(ids(after), ids(before), 'the list order is unchanged')
  const afterOne = after.find((v) => v.id === c)!
  t.same({ ...afterOne, labels: [] }, beforeOne, 'unread, waiting, lastActivityAt, preview: all as they were')
  t.equal(afterOne.unreadCount, 2, 'Ben still has his 2 unread')
  t.equal(conv.unreadCount, 2, 'and Ana her own')

  // The same set (in another order) again: no write, no event.
  const again = await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: [refund.id, vip.id] })
  t.equal(again.status, 200)
  t.same(again.body.conversation.labels, [refund, vip])
  t.equal(await eventCount('conversation.updated'), 1, 'idempotent: no second event')

  // Taking one off, then all.
  t.same((await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: [vip.id] })).body.conversation.labels, [vip])
  t.same((await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: [] })).body.conversation.labels, [])
  t.equal(await eventCount('conversation.updated'), 3)
  t.same(ids(await benList()), ids(before), 'still in its place')
  t.ok(
    (await benList()).every((v) => v.id !== older || v.labels.length === 0),
    'the others untouched',
  )

  const bad = await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: [vip.id, 999999] })
  t.equal(bad.status, 422)
  t.equal(bad.body.error.code, 'UNKNOWN_LABEL')
  t.same((await ana.call('GET', `/api/conversations/${c}`)).body.conversation.labels, [], 'nothing applied')
  t.equal((await ana.call('PUT', `/api/conversations/${c}/labels`, {})).status, 400, 'labelIds is required')
  t.equal((await ana.call('PUT', `/api/conversations/${c}/labels`, { labelIds: ['vip'] })).status, 400)
  t.equal((await ana.call('PUT', '/api/conversations/999999/labels', { labelIds: [] })).status, 404)
})

t.test('scope: another channel’s conversation is 404; another workspace’s labels read as unknown', async (t) => {
  const { s, call, x, agent, write, convOf, eventCount, otherWorkspace } = await workspace(t)
  const vip = (await call('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label as LabelRef
  const ana = await agent('Ana', [x])
  await write('15550001111', 'on X')
  await write('15550002222', 'on Y', 'y')
  const onX = await convOf('15550001111')
  const onY = await convOf('15550002222')
  const refused = await ana.call('PUT', `/api/conversations/${onY}/labels`, { labelIds: [vip.id] })
  t.equal(refused.status, 404, 'Y is not Ana’s channel')
  t.equal(refused.body.error.code, 'NOT_FOUND')
  t.equal(await pluck(s.sql, 'SELECT count(*) FROM conversation_labels'), 0)
  t.equal((await call('PUT', `/api/conversations/${onY}/labels`, { labelIds: [vip.id] })).status, 200, 'an admin sees every channel')

  const other = await otherWorkspace()
  t.same(
    ((await other.call('GET', '/api/labels')).body.labels as LabelRef[]).map((l) => l.name),
    ['Secret project'],
    'their own only',
  )
  t.same(
    ((await call('GET', '/api/labels')).body.labels as LabelRef[]).map((l) => l.name),
    ['VIP'],
    'ours only',
  )

  // Their label on our conversation reads exactly like one that does not exist.
  const foreign = await ana.call('PUT', `/api/conversations/${onX}/labels`, { labelIds: [other.label.id] })
  const missing = await ana.call('PUT', `/api/conversations/${onX}/labels`, { labelIds: [other.label.id + 1000] })
  t.equal(foreign.status, 422)
  t.same(foreign.body, missing.body, 'the same answer as for an id that does not exist')
  t.notOk(JSON.stringify(foreign.body).includes('Secret'), 'nothing of it in the answer')
  // Their admin cannot touch our label, nor our conversation, nor filter into our list.
  t.equal((await other.call('PATCH', `/api/labels/${vip.id}`, { name: 'Mine now' })).status, 404)
  t.equal((await other.call('DELETE', `/api/labels/${vip.id}`)).status, 404)
  t.equal((await other.call('PUT', `/api/conversations/${onX}/labels`, { labelIds: [other.label.id] })).status, 404)
  t.same((await other.call('GET', `/api/conversations?label=${vip.id}`)).body.conversations, [])
  t.same((await call('GET', `/api/conversations?label=${other.label.id}`)).body.conversations, [], 'nor we into theirs')
  // Their label name is the same as ours: no clash across workspaces.
  t.equal((await other.call('POST', '/api/labels', { name: 'VIP', color: '#111111' })).status, 201)
  const audience = await pluckAll(
    s.sql,
    `SELECT DISTINCT workspace_id FROM events WHERE type = 'labels.changed' AND payload LIKE '%Secret%'`,
  )
  t.equal(audience.length, 1, 'their labels.changed is theirs alone')
  t.not(audience[0], await s.app.services.auth.defaultWorkspace())
  t.equal(await eventCount('conversation.updated'), 1, 'only the admin’s change on Y')
})

t.test('the list filters by label: paged, composed with status, channel and view', async (t) => {
  const { call, x, y, agent, write, convOf } = await workspace(t)
  const vip = (await call('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label as LabelRef
  const refund = (await call('POST', '/api/labels', { name: 'Refund', color: '#dc2626' })).body.label as LabelRef
  const ana = await agent('Ana', [x])
  const numbers = ['15550000001', '15550000002', '15550000003', '15550000004', '15550000005', '15550000006', '15550000007']
  for (const n of numbers) await write(n, `hello from ${n}`)
  await write('15550000008', 'hello on Y', 'y')
  const conv = await Promise.all(numbers.map(convOf))
  const onY = await convOf('15550000008')
  // VIP on 1, 2, 4, 5, 7 (and Y's); Refund on 2 and 3.
  for (const i of [0, 1, 3, 4, 6]) await call('PUT', `/api/conversations/${conv[i]}/labels`, { labelIds: [vip.id] })
  await call('PUT', `/api/conversations/${conv[1]}/labels`, { labelIds: [vip.id, refund.id] })
  await call('PUT', `/api/conversations/${conv[2]}/labels`, { labelIds: [refund.id] })
  await call('PUT', `/api/conversations/${onY}/labels`, { labelIds: [vip.id] })
  const vipOnX = [conv[6]!, conv[4]!, conv[3]!, conv[1]!, conv[0]!] // newest first

  // Paging through the filter, two at a time.
  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const q: string = `/api/conversations?label=${vip.id}&channel=${x}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    const page = await call('GET', q)
    t.equal(page.status, 200)
    t.ok(page.body.conversations.length <= 2)
    for (const c of page.body.conversations as ConversationDTO[])
      t.ok(
        c.labels.some((l) => l.id === vip.id),
        'carries VIP',
      )
    seen.push(...ids(page.body.conversations))
    cursor = page.body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.same(seen, vipOnX, 'every VIP conversation on X once, newest first')
  t.equal(pages, 3)

  t.same(ids((await call('GET', `/api/conversations?label=${vip.id}`)).body.conversations), [onY, ...vipOnX], 'every channel')
  t.same(ids((await call('GET', `/api/conversations?label=${refund.id}`)).body.conversations), [conv[2], conv[1]])
  t.same(ids((await call('GET', `/api/conversations?label=${vip.id}&channel=${y}`)).body.conversations), [onY], 'with the channel')
  t.same(ids((await ana.call('GET', `/api/conversations?label=${vip.id}`)).body.conversations), vipOnX, 'within Ana’s channels')

  // With the status filter: resolve one.
  await call('POST', `/api/conversations/${conv[3]}/status`, { status: 'resolved' })
  t.same(ids((await call('GET', `/api/conversations?label=${vip.id}&status=resolved`)).body.conversations), [conv[3]])
  t.notOk(ids((await call('GET', `/api/conversations?label=${vip.id}&status=open`)).body.conversations).includes(conv[3]!))
  // With the views: Ana takes one.
  await ana.call('POST', `/api/conversations/${conv[0]}/assign`, { userId: ana.id })
  t.same(ids((await ana.call('GET', `/api/conversations?label=${vip.id}&view=mine&status=all`)).body.conversations), [conv[0]])
  t.same(ids((await ana.call('GET', `/api/conversations?label=${refund.id}&view=unassigned&status=all`)).body.conversations), [
    conv[2],
    conv[1],
  ])
  // With the search.
  t.same(ids((await call('GET', `/api/conversations?label=${vip.id}&q=0000002`)).body.conversations), [conv[1]])
  // The views' counts do not depend on labels.
  t.same((await ana.call('GET', '/api/conversations/counts')).status, 200)

  t.same((await call('GET', '/api/conversations?label=999999')).body.conversations, [], 'an unknown label: nothing')
  t.equal((await call('GET', '/api/conversations?label=abc')).status, 400)
  t.equal((await call('GET', '/api/conversations?label=0')).status, 400)
  await call('DELETE', `/api/labels/${refund.id}`)
  t.same((await call('GET', `/api/conversations?label=${refund.id}`)).body.conversations, [], 'a deleted label: nothing')
})
