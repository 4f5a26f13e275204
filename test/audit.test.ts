// Issue 16: the audit log over real HTTP. Every audited action writes its entry (sign-ins
// and failures with the e-mail tried and never the password, invitations, role, channel
// and deactivation changes, channel creation and credential changes by field name only,
// report and transcript exports); admins read it newest first in keyset pages and export it
// as CSV (itself audited); agents get 403 and another workspace's entries are never shown.
import t from 'tap'
import { ADMIN } from './helpers/server.ts'
import { pluck } from './helpers/sql-reads-pga.ts'
import { otherWorkspaceAdmin, twoChannelServer } from './helpers/team-fixtures.ts'

interface Entry {
  id: number
  at: number
  action: string
  actor: { userId: number | null; name: string | null; label: string | null }
  target: { type: string; id: string } | null
  detail: Record<string, unknown> | null
  ip: string | null
}

t.test('each action writes its entry; admins page through them newest first and export them', async (t) => {
  const ts = await twoChannelServer(t)
  const { s, api, first, second } = ts
  const ana = await ts.agent('Ana', [first])
  const adminId = (await pluck<number>(s.sql, 'SELECT id FROM users WHERE email = ?', [ADMIN.email]))!

  // A failed sign-in: the e-mail tried is the actor's label; the password is nowhere.
  const failed = await api('POST', '/api/auth/login', { email: 'Nobody@Example.com', password: 'hunter2-never-logged' }, null)
  t.equal(failed.status, 401)
  t.equal((await api('POST', '/api/users/invitations', { email: 'zoe@example.com', role: 'agent', channelIds: [first] })).status, 201)
  t.equal((await api('PATCH', `/api/users/${ana.id}`, { role: 'admin' })).status, 200)
  t.equal((await api('PATCH', `/api/users/${ana.id}`, { role: 'agent', channelIds: [first, second] })).status, 200)
  t.equal((await api('POST', `/api/users/${ana.id}/password-reset`)).status, 201)
  t.equal((await api('PATCH', `/api/users/${ana.id}`, { disabled: true })).status, 200)
  const edit = await api('PATCH', `/api/channels/${second}`, { name: 'Sales line', accessToken: 'EAA-secret-value-42' })
  t.equal(edit.status, 200)
  const csv = await s.get('/api/reports/summary.csv', ts.adminToken)
  t.equal(csv.status, 200)
  await ts.customerWrites('15550001111', 'Carla', 'Hello')
  const conv = (await pluck<number>(s.sql, 'SELECT id FROM conversations'))!
  t.equal((await s.get(`/api/conversations/${conv}/transcript?format=text`, ts.adminToken)).status, 200)

  const page = await api('GET', '/api/audit?limit=200')
  t.equal(page.status, 200)
  const entries = page.body.entries as Entry[]
  t.equal(page.body.nextCursor, null)
  const ids = entries.map((e) => e.id)
  t.same(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  )
  const one = (action: string) => entries.filter((e) => e.action === action)

  t.ok(
    one('auth.login').some((e) => e.actor.userId === adminId && e.actor.name && e.detail?.method === 'password'),
    'sign-in',
  )
  const f = one('auth.login_failed')[0]!
  t.same(f.actor, { userId: null, name: null, label: 'nobody@example.com' })
  t.same(f.detail, { reason: 'password' })
  t.ok(f.ip, 'with the address')
  const inv = one('user.invited')[0]!
  t.equal(inv.actor.userId, adminId)
  t.same(inv.detail, { email: 'zoe@example.com', role: 'agent', channelIds: [first] })
  t.same(
    one('user.role_changed').map((e) => e.detail),
    [
      { from: 'admin', to: 'agent' },
      { from: 'agent', to: 'admin' },
    ],
  )
  t.same(one('user.channels_changed')[0]!.detail, { from: [first], to: [first, second] })
  t.same(one('user.channels_changed')[0]!.target, { type: 'user', id: String(ana.id) })
  t.equal(one('user.disabled').length, 1)
  t.same(one('user.password_reset_link')[0]!.target, { type: 'user', id: String(ana.id) }, 'the link itself is not kept')
  t.same(one('channel.created')[0]!.detail, {
    kind: 'whatsapp',
    name: 'Support line',
    credentials: ['accessToken', 'appSecret', 'verifyToken'],
  })
  t.same(one('channel.credentials_changed')[0]!.detail, { fields: ['accessToken'] })
  t.same(one('channel.updated')[0]!.detail, { fields: ['name'] })
  t.equal(one('report.exported').length, 1)
  t.same(one('transcript.exported')[0]!.target, { type: 'conversation', id: String(conv) })

  // No secret in the log: not the password tried, not a token, not a channel secret.
  const raw = JSON.stringify(await s.sql.all('SELECT * FROM audit_log'))
  for (const secret of ['hunter2-never-logged', 'EAA-secret-value-42', 'EAA-second', 'second-app-secret', 'second-verify'])
    t.notOk(raw.includes(secret), `no ${secret} in the audit log`)

  // Keyset pages of 3 walk every entry once.
  const walked: number[] = []
  let cursor: string | null = null
  do {
    const p: { status: number; body: { entries: Entry[]; nextCursor: string | null } } = await api(
      'GET',
      `/api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
    )
    t.equal(p.status, 200)
    t.ok(p.body.entries.length <= 3)
    walked.push(...p.body.entries.map((e) => e.id))
    cursor = p.body.nextCursor
  } while (cursor)
  t.same(walked, ids, 'pages: every entry once, in order')
  t.equal((await api('GET', '/api/audit?cursor=not-a-cursor')).body.error.code, 'BAD_CURSOR')

  // CSV export, itself audited.
  const exp = await s.get('/api/audit.csv', ts.adminToken)
  t.equal(exp.status, 200)
  t.match(exp.headers.get('content-type'), /^text\/csv/)
  t.match(exp.headers.get('content-disposition'), /attachment; filename="parley-audit-log\.csv"/)
  const text = await exp.text()
  const lines = text.trim().split('\r\n')
  t.equal(lines[0], 'id,time,actor,actor_user_id,action,target_type,target_id,detail,ip')
  t.equal(lines.length, ids.length + 2, 'every entry, and the export itself')
  t.match(lines[1], /,audit\.exported,/)
  t.ok(lines.some((l) => l.includes('nobody@example.com') && l.includes('auth.login_failed')))
  t.equal((await api('GET', '/api/audit?limit=1')).body.entries[0].action, 'audit.exported')
})

t.test('agents get 403; another workspace never sees these entries', async (t) => {
  const ts = await twoChannelServer(t)
  const { s, api, first } = ts
  const ana = await ts.agent('Ana', [first])
  t.equal((await ana.call('GET', '/api/audit')).status, 403)
  t.equal((await s.get('/api/audit.csv', ana.token)).status, 403)
  t.equal((await ana.call('GET', '/api/audit?limit=abc')).status, 403, 'before the query is looked at')

  const other = await otherWorkspaceAdmin(s)
  const mine = (await api('GET', '/api/audit?limit=200')).body.entries as Entry[]
  const theirs = (await other.call('GET', '/api/audit?limit=200')).body.entries as Entry[]
  t.ok(mine.length > 2)
  t.same(
    theirs.map((e) => e.action),
    ['auth.login'],
    'their own sign-in only',
  )
  const mineIds = new Set(mine.map((e) => e.id))
  t.notOk(
    theirs.some((e) => mineIds.has(e.id)),
    'no shared entries',
  )
  // A cursor from one workspace's page reads nothing of the other's.
  const cursor = (await api('GET', '/api/audit?limit=1')).body.nextCursor as string
  const across = await other.call('GET', `/api/audit?cursor=${cursor}`)
  t.ok((across.body.entries as Entry[]).every((e) => !mineIds.has(e.id)))
  const csv = await (await s.get('/api/audit.csv', other.token)).text()
  t.notOk(csv.includes('ana@example.com'))
  t.notOk(csv.includes(ADMIN.email))
})
