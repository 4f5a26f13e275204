// Issue 15: the search index is written in the message's own transaction (SQLite triggers),
// so a message answered 200 and then the process killed with -9 is found after restart —
// no lag to lose, nothing to rebuild.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnParley } from './helpers/process.ts'
import { ADMIN, APP_SECRET, PHONE_NUMBER_ID } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { metaEscape, signPayload } from '../src/channels/meta-signature.ts'

t.test('a message stored, then kill -9: search finds it after restart', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-search-kill-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = {
    DATA_DIR: dataDir,
    META_APP_SECRET: APP_SECRET,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  }
  const first = await spawnParley(env)
  t.teardown(() => {
    first.child.kill('SIGKILL')
  })
  const body = metaEscape(JSON.stringify(textWebhook('5511955550001', 'Joana Prado', 'Is the velvet armchair back in stock?').payload))
  const res = await fetch(`${first.url}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(APP_SECRET, body) },
    body,
  })
  t.equal(res.status, 200, 'the webhook is acknowledged: the message is stored')
  await first.kill('SIGKILL')

  const again = await spawnParley(env)
  t.teardown(() => {
    again.child.kill('SIGKILL')
  })
  const login = await fetch(`${again.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const { token } = (await login.json()) as { token: string }
  const search = await fetch(`${again.url}/api/search?q=${encodeURIComponent('velvet armch')}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  t.equal(search.status, 200)
  const found = (await search.json()) as {
    results: { messageId: number | null; snippet: string; conversation: { contact: { name: string | null } } }[]
  }
  t.equal(found.results.length, 1, 'found after the crash')
  t.equal(found.results[0]!.snippet, 'Is the velvet armchair back in stock?')
  t.not(found.results[0]!.messageId, null)
})
