// kill -9 during signed webhook load: every webhook answered 200 is stored exactly
// once; and a stream client reconnecting with its last id gets every event once, in order.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { spawnParley } from './helpers/process.ts'
import { APP_SECRET, PHONE_NUMBER_ID, ADMIN } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'
import { metaEscape, signPayload } from '../src/channels/meta-signature.ts'

// The whole file's limit: kill -9 rounds took up to 23 s in CI rehearsals; room for a slower machine.
t.setTimeout(300_000)

t.test('kill -9 under load loses nothing acknowledged and duplicates nothing', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-kill-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = {
    DATA_DIR: dataDir,
    META_APP_SECRET: APP_SECRET,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  }
  const acked = new Set<string>()
  const sent: string[] = []
  let counter = 0
  const fire = async (url: string, stop: () => boolean) => {
    while (!stop()) {
      const { payload, id } = textWebhook(`1555000${1000 + (counter % 20)}`, 'Load', `load ${counter++}`)
      sent.push(id)
      const body = metaEscape(JSON.stringify(payload))
      try {
        const res = await fetch(`${url}/webhooks/whatsapp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(APP_SECRET, body) },
          body,
        })
        if (res.status === 200) acked.add(id)
      } catch {
        return // the server died under us: this one was not acknowledged
      }
    }
  }

  let lastId: string | undefined
  const seen: number[] = []
  for (let round = 0; round < 3; round++) {
    const p = await spawnParley(env)
    const login = await fetch(`${p.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    })
    const { token } = (await login.json()) as { token: string }
    const sse = await connectSse(`${p.url}/stream`, { token, lastEventId: lastId ?? undefined })
    let stopped = false
    const load = Promise.all(Array.from({ length: 8 }, () => fire(p.url, () => stopped)))
    // Let some work be acknowledged, then pull the plug mid-flight.
    const before = acked.size
    while (acked.size < before + 150) await new Promise((r) => setTimeout(r, 10))
    await p.kill('SIGKILL')
    stopped = true
    await load
    sse.close()
    for (const e of sse.events) if (e.id && e.event === 'message.created') seen.push(Number(e.id.split(':')[1]))
    lastId = sse.lastId() ?? lastId
  }

  // Restart once more and read the truth from disk.
  const p = await spawnParley(env)
  const login = await fetch(`${p.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const { token } = (await login.json()) as { token: string }
  const sse = await connectSse(`${p.url}/stream`, { token, lastEventId: lastId })
  const db = new Database(path.join(dataDir, 'parley.db'), { readonly: true })
  const stored = db.prepare('SELECT provider_message_id AS id FROM messages').all() as { id: string }[]
  const storedIds = new Set(stored.map((r) => r.id))
  const head = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as { seq: number }).seq
  db.close()
  t.ok(acked.size >= 450, `${acked.size} webhooks acknowledged across 3 crashes`)
  t.equal(stored.length, storedIds.size, 'no message stored twice')
  const lost = [...acked].filter((id) => !storedIds.has(id))
  t.same(lost, [], 'every acknowledged webhook is on disk')
  t.ok(
    stored.every((r) => sent.includes(r.id)),
    'nothing stored that was not sent',
  )

  // The stream client that reconnected after every crash has every event once, in order.
  await sse.waitFor((ev) => ev.some((e) => e.id && Number(e.id.split(':')[1]) === head) || seen[seen.length - 1] === head, 15000)
  for (const e of sse.events) if (e.id && e.event === 'message.created') seen.push(Number(e.id.split(':')[1]))
  sse.close()
  await p.kill('SIGTERM')
  t.same(
    seen,
    Array.from({ length: head }, (_, i) => i + 1),
    'every event once, in order, across crashes',
  )
})
