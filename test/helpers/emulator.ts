// The outside world for sending tests: the Meta emulator on its own loopback listener
// (it outlives Parley restarts, as Meta does), and a real Parley pointed at it through
// GRAPH_API_URL with a WhatsApp token — nothing of Parley is replaced.
import { startEmulatorServer, type EmulatorServer } from '../../src/sandbox/standalone.ts'
import type { EmulatorConfig, Faults } from '../../src/sandbox/emulator.ts'
import type { SimMessage } from '../../src/sandbox/emulator-state.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ADMIN, apiCall, APP_SECRET, PHONE_NUMBER_ID, startServer, type TestLike, type TestServer } from './server.ts'
import { freePort, spawnParley } from './process.ts'

export const GRAPH_TOKEN = 'test-graph-token'
export const WABA_ID = '100000000000001'
export const DISPLAY_NUMBER = '15550001000'

export interface Emu extends EmulatorServer {
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>
  customer(name: string, phone?: string): Promise<{ phone: string; name: string }>
  /** The customer writes text; resolves once Parley answered the webhook. */
  say(phone: string, text: string, extra?: Record<string, unknown>): Promise<SimMessage>
  send(phone: string, input: Record<string, unknown>): Promise<SimMessage>
  read(phone: string): Promise<number>
  messages(phone: string): Promise<SimMessage[]>
  faults(patch: Partial<Faults>): Promise<Faults>
  stats(): Promise<ReturnType<EmulatorServer['emulator']['stats']>>
}

export async function startEmulator(t: TestLike, config: Partial<EmulatorConfig> = {}): Promise<Emu> {
  const server = await startEmulatorServer({
    numbers: [{ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: DISPLAY_NUMBER, wabaId: WABA_ID, accessToken: GRAPH_TOKEN }],
    appSecret: APP_SECRET,
    // Fast statuses keep tests short; the order (sent before delivered) is what matters.
    statusDelays: { sentMs: 20, deliveredMs: 60, readMs: 0 },
    ratePerSecond: 80,
    webhookRetry: { baseMs: 100, capMs: 1000 },
    ...config,
  })
  t.teardown(() => server.close())
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = (await res.json()) as any
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const send = async (phone: string, input: Record<string, unknown>) => {
    const out = await api('POST', `/api/sandbox/customers/${phone}/messages`, input)
    if (!out.delivered) throw new Error('Parley did not accept the webhook')
    return out.message as SimMessage
  }
  return {
    ...server,
    api,
    async customer(name, phone) {
      return (await api('POST', '/api/sandbox/customers', { name, ...(phone ? { phone } : {}) })).customer
    },
    say: (phone, text, extra = {}) => send(phone, { type: 'text', text, ...extra }),
    send,
    async read(phone) {
      return (await api('POST', `/api/sandbox/customers/${phone}/read`)).read
    },
    async messages(phone) {
      return (await api('GET', `/api/sandbox/customers/${phone}/messages`)).messages
    },
    async faults(patch) {
      return (await api('PUT', '/api/sandbox/faults', patch)).faults
    },
    async stats() {
      return api('GET', '/api/sandbox/stats')
    },
  }
}

export interface Pair {
  emu: Emu
  parley: TestServer
  token: string
  cookie: string
  /** Authenticated JSON request to Parley. */
  call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
}

/** Emulator + Parley wired to each other (Graph calls one way, signed webhooks the other). */
export async function startPair(
  t: TestLike,
  opts: { env?: Record<string, string>; emulator?: Partial<EmulatorConfig>; dataDir?: string } = {},
): Promise<Pair> {
  const emu = await startEmulator(t, opts.emulator)
  const parley = await startServer(t, {
    dataDir: opts.dataDir,
    env: {
      GRAPH_API_URL: emu.graphUrl,
      WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
      WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
      OUTBOX_RETRY_BASE_MS: '20',
      OUTBOX_RETRY_CAP_MS: '200',
      ...opts.env,
    },
  })
  emu.emulator.setWebhookUrl(`${parley.url}/webhooks/whatsapp`)
  const { token, cookie } = await parley.login()
  const call = apiCall(parley.url, token)
  return { emu, parley, token, cookie, call }
}

/** Polls until `fn` returns a truthy value (state reached over HTTP, not a timing assertion). */
export async function until<T>(fn: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * A real Parley child process pointed at this test's emulator (for kill -9 tests): its
 * own data dir and port, kept across restarts, signed in once — the session lives in
 * the database, so `call` keeps working after every `start()`.
 */
export interface EmulatedParley {
  readonly url: string
  /** Kills the running process (SIGKILL by default). */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same data dir and port. */
  start(): Promise<void>
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
}

export async function spawnAgainstEmulator(
  t: TestLike,
  emu: Emu,
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<EmulatedParley> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `${name}-`))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env = {
    DATA_DIR: dataDir,
    META_APP_SECRET: APP_SECRET,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
    WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
    GRAPH_API_URL: emu.graphUrl,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    OUTBOX_RETRY_BASE_MS: '20',
    ...extraEnv,
  }
  let proc = await spawnParley(env, port)
  t.teardown(() => proc.kill())
  const url = proc.url
  emu.emulator.setWebhookUrl(`${url}/webhooks/whatsapp`)
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const { token } = (await login.json()) as { token: string }
  return {
    url,
    kill: (signal = 'SIGKILL') => proc.kill(signal),
    async start() {
      proc = await spawnParley(env, port)
    },
    call: apiCall(url, token),
  }
}
