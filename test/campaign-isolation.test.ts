// Contacts and campaigns are scoped by the workspace of the session (issue 7): another
// workspace's ids answer 404 on every route, its lists stay empty, and its stream never
// carries this workspace's campaign or contact events.
import t from 'tap'
import { startPair } from './helpers/emulator.ts'
import { connectSse } from './helpers/sse.ts'
import type { TestServer } from './helpers/server.ts'
import { action, contactsCsv, createCampaign, importCsv, play, waitCampaign } from './helpers/campaigns.ts'
import { get } from '../src/store/unit.ts'

/**
 * An admin of a second workspace (Parley has no API to create one). Written through the
 * app's own unit runner, so it works on SQLite and on PostgreSQL alike.
 */
async function otherWorkspaceAdmin(s: TestServer): Promise<{ token: string }> {
  const workspaceId = await s.app.services.units.transact(function* () {
    return (yield* get<{ id: number }>(`INSERT INTO workspaces (name) VALUES ('Other shop') RETURNING id`))!.id
  })
  const login = { email: 'other@example.com', password: 'other password 1' }
  await s.app.services.auth.createUser({ workspaceId, ...login, name: 'Other', role: 'admin' })
  const { token } = await s.login(login)
  return { token }
}

t.test('another workspace sees none of it', async (t) => {
  const p = await startPair(t)
  play(p)
  const theirs = await otherWorkspaceAdmin(p.parley)
  const as2 = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(p.parley.url + path, {
      method,
      headers: { authorization: `Bearer ${theirs.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json().catch(() => null)) as any }
  }
  const sse2 = await connectSse(`${p.parley.url}/stream`, { token: theirs.token })
  t.teardown(() => sse2.close())

  const report = await importCsv(p, contactsCsv(5))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  await waitCampaign(p, c.id, (x) => x.status === 'completed' && x.counts.delivered === 5, 'completed')
  const contact = (await p.call('GET', '/api/contacts')).body.contacts[0]

  for (const [method, path, body] of [
    ['GET', `/api/campaigns/${c.id}`],
    [
      'PUT',
      `/api/campaigns/${c.id}`,
      { name: 'x', template: { name: 'order_update', language: 'en' }, params: { body: {}, header: {} }, audience: { kind: 'all' } },
    ],
    ['POST', `/api/campaigns/${c.id}/pause`, {}],
    ['POST', `/api/campaigns/${c.id}/resume`, {}],
    ['POST', `/api/campaigns/${c.id}/cancel`, {}],
    ['POST', `/api/campaigns/${c.id}/start`, {}],
    ['POST', `/api/campaigns/${c.id}/retry-unconfirmed`, {}],
    ['POST', `/api/campaigns/${c.id}/follow-up`, { filter: 'no_reply' }],
    ['GET', `/api/campaigns/${c.id}/recipients`],
    ['GET', `/api/campaigns/${c.id}/recipients.csv`],
    ['POST', '/api/campaigns/audience', { audience: { kind: 'list', listId: report.listId } }],
    ['POST', '/api/campaigns/audience', { audience: { kind: 'followup', campaignId: c.id, filter: 'failed' } }],
    ['GET', `/api/contacts/${contact.id}`],
    ['PATCH', `/api/contacts/${contact.id}`, { name: 'Mine now' }],
    ['POST', `/api/contacts/${contact.id}/opt-out`, { optedOut: true }],
  ] as const) {
    t.equal((await as2(method, path, body)).status, 404, `${method} ${path}`)
  }
  t.same((await as2('GET', '/api/campaigns')).body.campaigns, [])
  t.same((await as2('GET', '/api/contacts')).body.contacts, [])
  t.same((await as2('GET', '/api/contacts/tags')).body.tags, [])
  t.same((await as2('GET', '/api/contacts/lists')).body.lists, [])
  t.equal((await as2('POST', '/api/contacts/tags', { contactIds: [contact.id], add: ['stolen'] })).body.updated, 0)
  const create = await as2('POST', '/api/campaigns', {
    name: 'Theirs',
    template: { name: 'order_update', language: 'en' },
    params: { body: {}, header: {} },
    audience: { kind: 'all' },
  })
  t.equal(create.status, 409, 'no WhatsApp number in that workspace')
  t.equal(create.body.error.code, 'NO_CHANNEL')
  // Their stream carried nothing of ours.
  t.same(
    sse2.events.filter((e) => e.event !== 'ping').map((e) => e.event),
    [],
  )
  t.equal((await p.call('GET', `/api/contacts/${contact.id}`)).body.contact.name, contact.name, 'untouched')
})
