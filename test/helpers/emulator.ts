// The outside world for sending tests: the Meta emulator on its own loopback listener
// (it outlives Parley restarts, as Meta does), and a real Parley pointed at it through
// GRAPH_API_URL with a WhatsApp token — nothing of Parley is replaced.
import { startEmulatorServer, type EmulatorServer } from '../../src/sandbox/standalone.ts'
import type { EmulatorConfig, Faults } from '../../src/sandbox/emulator.ts'
import type { SimMessage } from '../../src/sandbox/emulator-state.ts'
import { APP_SECRET, PHONE_NUMBER_ID, startServer, type TestLike, type TestServer } from './server.ts'

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
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(parley.url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any }
  }
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
