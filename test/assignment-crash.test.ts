// kill -9 during automatic assignment under load (issue 13): Parley runs as a real child
// process; 150 customers open conversations on an auto-assign channel, ten at a time,
// delivered like Meta delivers (anything but a 200 is retried), and the process is
// killed mid-stream and started again. Afterwards every conversation has exactly one
// assignee with exactly one "assigned" line and one notification, none is left in the
// pool, and the round robin is still even (its position commits with each assignment).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase } from '../src/store/db.ts'
import { AuthService } from '../src/domain/accounts/auth.ts'
import { SqliteRunner } from '../src/store/runner.ts'
import { ChannelMembersRepo } from '../src/store/channel-members.ts'
import { deliverLikeMeta, freePort, spawnParley } from './helpers/browser-server.ts'
import { textWebhook } from './helpers/wa.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { ADMIN, apiCall } from './helpers/server.ts'

const CUSTOMERS = 150
const KILL_AFTER = 50
const CONCURRENCY = 10

t.setTimeout(180_000)

t.test('kill -9 while conversations are being assigned: none assigned twice, none lost', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-assign-crash-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  let server = await spawnParley(t, { dataDir, port })

  // Three agents on the number, automatic assignment on: written into the database the
  // process uses (WAL allows it); the team's invitation routes are another feature's.
  const db = openDatabase(path.join(dataDir, 'parley.db'), { busyTimeoutMs: 5000 })
  t.teardown(() => db.$client.close())
  const auth = new AuthService({ units: new SqliteRunner(db.$client) }, Date.now)
  const ws = await auth.defaultWorkspace()
  const channelId = (db.$client.prepare('SELECT id FROM channels ORDER BY id LIMIT 1').get() as { id: number }).id
  const members = new ChannelMembersRepo()
  const runner = new SqliteRunner(db.$client)
  const agents: number[] = []
  for (const name of ['Ben', 'Dan', 'Eve']) {
    const u = await auth.createUser({
      workspaceId: ws,
      email: `${name.toLowerCase()}@example.com`,
      name,
      password: 'a long enough password',
      role: 'agent',
    })
    await runner.transact(() => members.set(u.id, [channelId]))
    agents.push(u.id)
  }
  // Their inboxes are open (an open stream is what makes a person online); the kill cuts
  // them, and Parley counts them online for the grace after the restart, as for any blip.
  for (const name of ['Ben', 'Dan', 'Eve']) {
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${name.toLowerCase()}@example.com`, password: 'a long enough password' }),
    })
    const { token } = (await login.json()) as { token: string }
    const open = await connectSse(`http://127.0.0.1:${port}/stream`, { token })
    t.teardown(() => open.close())
  }
  await until(
    async () => (db.$client.prepare('SELECT count(*) FROM users WHERE streaming = 1').pluck().get() as number) === 3,
    'the three agents online',
  )
  // Automatic assignment on through the API: the process's channel directory follows committed
  // channel changes (issue 17), not a row written behind its back.
  const base = `http://127.0.0.1:${port}`
  const adminLogin = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
  })
  const { token: adminToken } = (await adminLogin.json()) as { token: string }
  t.equal((await apiCall(base, adminToken)('PATCH', `/api/channels/${channelId}`, { autoAssign: true })).status, 200)
  db.$client.prepare('UPDATE workspaces SET assignment_cap = 1000 WHERE id = ?').run(ws)

  let accepted = 0
  let killed = false
  const restart = (async () => {
    while (accepted < KILL_AFTER) await new Promise((r) => setTimeout(r, 20))
    t.comment(`kill -9 after ${accepted} webhooks were acknowledged`)
    await server.kill('SIGKILL')
    killed = true
    server = await spawnParley(t, { dataDir, port })
  })()
  let next = 0
  const worker = async () => {
    while (next < CUSTOMERS) {
      const i = next++
      const from = `4917000${String(i).padStart(5, '0')}`
      await deliverLikeMeta(`http://127.0.0.1:${port}`, textWebhook(from, `Customer ${i}`, `hello ${i}`).payload)
      accepted++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await restart
  t.ok(killed, 'the process was killed while webhooks were arriving')

  const q = <T>(sql: string, ...args: unknown[]) => db.$client.prepare(sql).all(...args) as T[]
  // The webhook's 200 comes after its commit; the assignment commits with the message.
  const convs = q<{ id: number; assignee_id: number | null }>('SELECT id, assignee_id FROM conversations ORDER BY id')
  t.equal(convs.length, CUSTOMERS, 'one conversation per customer (retries were idempotent)')
  t.same(
    convs.filter((c) => c.assignee_id === null).map((c) => c.id),
    [],
    'none lost: every conversation has its assignee',
  )
  const lines = q<{ conversation_id: number; n: number; target: number }>(
    `SELECT conversation_id, count(*) AS n, json_extract(data, '$.target.userId') AS target FROM messages
      WHERE direction = 'system' AND json_extract(data, '$.action') = 'assigned' GROUP BY conversation_id`,
  )
  t.equal(lines.length, CUSTOMERS, 'every conversation has an assignment line')
  t.same(
    lines.filter((l) => l.n !== 1).map((l) => l.conversation_id),
    [],
    'none was assigned twice',
  )
  const assignee = new Map(convs.map((c) => [c.id, c.assignee_id]))
  t.same(
    lines.filter((l) => assignee.get(l.conversation_id) !== l.target).map((l) => l.conversation_id),
    [],
    'each line names the assignee the conversation has',
  )
  const told = q<{ n: number }>(
    "SELECT count(*) AS n FROM events WHERE type = 'conversation.assigned' GROUP BY json_extract(payload, '$.conversation.id')",
  )
  t.equal(told.length, CUSTOMERS)
  t.ok(
    told.every((r) => r.n === 1),
    'each assignee was told once',
  )
  const counts = agents.map((a) => convs.filter((c) => c.assignee_id === a).length)
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `the rotation survived the crash: ${counts.join(', ')}`)
  t.equal(
    q<{ n: number }>('SELECT count(*) AS n FROM messages WHERE direction = ?', 'in')[0]!.n,
    CUSTOMERS,
    'every customer message stored once',
  )
  await server.kill('SIGKILL')
})
