// A real Parley process (node src/main.ts) on a fixed port and data dir, so a test can
// kill -9 it and start it again where the browsers expect it.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { APP_SECRET, ADMIN, PHONE_NUMBER_ID, VERIFY_TOKEN, type TestLike } from './server.ts'
import { ROOT } from './browser.ts'
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'
import { START_TIMEOUT_MS, waitUntilServing } from './process.ts'

export { freePort } from './process.ts'

export interface ParleyProcess {
  url: string
  child: ChildProcess
  exited: Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export async function spawnParley(
  t: TestLike,
  opts: { dataDir: string; port: number; env?: Record<string, string> },
): Promise<ParleyProcess> {
  const url = `http://127.0.0.1:${opts.port}`
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATA_DIR: opts.dataDir,
      PORT: String(opts.port),
      HOST: '127.0.0.1',
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: VERIFY_TOKEN,
      WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      LOGIN_RATE_PER_MINUTE: '1000',
      LOG_LEVEL: 'error',
      ...opts.env,
    },
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  t.teardown(() => kill())
  await waitUntilServing(child, opts.port)
  return { url, child, exited, kill }
}

/** Posts a signed webhook the way Meta does: anything but 200 (or no answer) is retried. */
export async function deliverLikeMeta(url: string, payload: unknown, giveUpMs = START_TIMEOUT_MS * 2): Promise<number> {
  const body = metaEscape(JSON.stringify(payload))
  const end = Date.now() + giveUpMs
  let attempts = 0
  for (;;) {
    attempts++
    try {
      const res = await fetch(`${url}/webhooks/whatsapp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(APP_SECRET, body) },
        body,
      })
      await res.arrayBuffer()
      if (res.status === 200) return attempts
    } catch {
      /* server down: Meta retries */
    }
    if (Date.now() > end) throw new Error('webhook never accepted')
    await new Promise((r) => setTimeout(r, 200))
  }
}
