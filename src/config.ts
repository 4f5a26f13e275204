// The one place that reads process.env. Every default is named here with the
// reason beside it; an invalid value stops the start with one line naming the variable.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'

export const DEFAULTS = {
  PORT: 3000,
  HOST: '0.0.0.0',
  DATA_DIR: './data',
  // Issue 17, several processes on PostgreSQL: how often each process reads the event log
  // when nothing woke it (its own commits and NOTIFY hints usually do first). Centrifugo's
  // PostgreSQL consumer polls every 300 ms; the issue asks for at most 500.
  PG_POLL_MS: 250,
  // Connections each process keeps to PostgreSQL (plus two listening ones). Three processes at
  // the default stay far below the server's default max_connections of 100.
  PG_POOL_SIZE: 10,
  // Meta's production Graph base URL; the sandbox and tests point this at the emulator.
  GRAPH_API_URL: 'https://graph.facebook.com/v23.0',
  // Short-lived sessions: a stolen token is useful for a working day at most.
  SESSION_TTL_SECONDS: 12 * 3600,
  // Meta retries for 7 days; keeping events as long lets any client that was
  // offline during a retry window still replay instead of resetting.
  EVENT_RETENTION_DAYS: 7,
  // 15–30 s keeps nginx (60 s idle cut) and NAT boxes from dropping idle streams.
  SSE_HEARTBEAT_SECONDS: 20,
  // A named ping the browser watchdog can see (comments are invisible to EventSource).
  SSE_PING_SECONDS: 30,
  // A client whose unsent bytes pass this is closed and replays on reconnect.
  SSE_MAX_BUFFERED_BYTES: 1024 * 1024,
  // ...or whose socket does not drain within this long.
  SSE_DRAIN_TIMEOUT_MS: 5000,
  // Waiting this long for a lock beats failing; longer would stall the event loop.
  DB_BUSY_TIMEOUT_MS: 5000,
  // Failed logins per minute per account, counted across addresses (OWASP: throttle login).
  LOGIN_RATE_PER_MINUTE: 10,
  // Failed logins per minute per client address, across accounts: higher than the
  // account limit so colleagues behind one office NAT who mistype do not lock each other
  // out, low enough that one address cannot try a password on every account.
  LOGIN_RATE_PER_ADDRESS_PER_MINUTE: 50,
  // A browser needs one stream (its tabs share it through the leader-tab relay); a few
  // more cover a second browser profile or an API client on the same session. Past it the
  // oldest stream of the session is closed: it may be a half-dead socket of a sleeping
  // laptop, and if it is alive it replays what it missed on reconnect.
  SSE_MAX_STREAMS_PER_SESSION: 5,
  // A person with no open stream this long counts as offline for assignment (issue 13):
  // five minutes rides out a reload, a network blip, a laptop lid closed for a coffee.
  PRESENCE_OFFLINE_AFTER_SECONDS: 300,
  // A request slower than this is logged at warn whatever LOG_LEVEL says.
  SLOW_REQUEST_MS: 1000,
  LOG_LEVEL: 'info',
  // Threads that read reports (issue 15): two run a report's two halves at once, and keep
  // a whole history's report off the event loop that serves webhooks and streams. 0: inline.
  REPORT_THREADS: 2,
  // Off: X-Forwarded-For is client-controlled unless a proxy you run sets it, and the
  // login throttle keys on the client address.
  TRUST_PROXY: false,
  // Meta's default throughput per registered number (W-THROUGHPUT); above it Meta answers 130429.
  WHATSAPP_SEND_RATE_PER_SECOND: 80,
  // Added to Meta's one-second window when pacing sends: absorbs network jitter at the cost
  // of this share of the rate. The floor each number starts at and returns to: 20 ms runs
  // a number at 98% of its rate (issue 7's campaigns within 3% of the ideal); a number
  // that draws 130429 widens its own margin (up to 200 ms) and narrows it back after a
  // calm minute (outbox-rate.ts), so a jittery link costs a short pause, not a flood.
  WHATSAPP_RATE_MARGIN_MS: 20,
  // One Graph API call; past it the outcome of a send is unknown (never resent blindly).
  GRAPH_TIMEOUT_MS: 30_000,
  // Transient send errors retry after a random wait under base·2^attempt (full jitter), capped.
  OUTBOX_RETRY_BASE_MS: 1000,
  OUTBOX_RETRY_CAP_MS: 5 * 60_000,
  // A message still failing transiently after this many attempts is reported failed.
  OUTBOX_MAX_ATTEMPTS: 8,
  // Checking a channel's saved credentials while Meta cannot be reached: again after a
  // random wait under base·2^attempt, capped (half a minute first, at most hourly).
  CHANNEL_CHECK_RETRY_BASE_MS: 30_000,
  CHANNEL_CHECK_RETRY_CAP_MS: 3600_000,
  // Meta's management API allows 200 calls/h per WABA; 5 minutes keeps listing far below it.
  TEMPLATE_CACHE_SECONDS: 300,
  // Opening a conversation marks the customer's messages read on WhatsApp (blue ticks).
  WHATSAPP_MARK_READ: true,
  // Meta's largest inbound media (documents) is 100 MB (W-MEDIA).
  MEDIA_MAX_BYTES: 100 * 1024 * 1024,
  // Agents' uploads; Meta's per-type limits (image 5 MB, document 100 MB) apply below this.
  MEDIA_UPLOAD_MAX_BYTES: 25 * 1024 * 1024,
  // Messenger webhooks carry no name, so Parley asks Meta's User Profile API for it. On by
  // default (agents expect names, not PSIDs); turn it off for an app without "Business Asset
  // User Profile Access", where every call would be refused anyway.
  MESSENGER_FETCH_PROFILES: true,
  // Sandbox emulator: delays before the sent and delivered status webhooks, like a phone nearby.
  SANDBOX_SENT_DELAY_MS: 300,
  SANDBOX_DELIVERED_DELAY_MS: 1200,
  // 0: the simulated customer reads only when their chat is open (or the API says so).
  SANDBOX_READ_DELAY_MS: 0,
  // The emulator enforces Meta's throughput (130429) at this rate per number.
  SANDBOX_RATE_PER_SECOND: 80,
  // Fault injection (all off by default): share of sends answered with a transient error,
  // added latency, share of statuses delivered twice, statuses shuffled, share of sends
  // accepted and then answered by dropping the connection.
  SANDBOX_ERROR_RATE: 0,
  SANDBOX_LATENCY_MS: 0,
  SANDBOX_DUPLICATE_RATE: 0,
  SANDBOX_OUT_OF_ORDER: false,
  SANDBOX_DROP_RATE: 0,
  // The sandbox Page's delivery watermarks: this share carry no `mids` (Meta's may not).
  SANDBOX_MESSENGER_NO_MIDS_RATE: 0.5,
  // Campaigns (issue 7). A customer's first message this long after a campaign message
  // was delivered counts as a reply to it (a quoted reply always does).
  CAMPAIGN_REPLY_WINDOW_HOURS: 72,
  // Whole-message keywords (case, accents and punctuation ignored) that opt a contact out
  // of campaigns. English, Spanish, Portuguese, French, German, Italian. CANCEL, END and
  // QUIT are left out on purpose: customers write "cancel" about an order.
  OPT_OUT_KEYWORDS:
    'STOP,STOPALL,UNSUBSCRIBE,OPT OUT,OPTOUT,BAJA,DARME DE BAJA,PARAR,NO MAS,SAIR,DESCADASTRAR,ARRET,ARRETER,DESABONNER,STOPP,ABMELDEN,DISISCRIVITI',
  // A running campaign pauses itself when at least this share of its last sends failed
  // (the list is wrong, the template was rejected): a human decides before thousands more fail.
  CAMPAIGN_FAILURE_PAUSE_RATIO: 0.5,
  CAMPAIGN_FAILURE_WINDOW: 50,
  // The sandbox plays campaign recipients (numbers the simulator does not know): shares
  // of failures by Meta code, then delivered, read (of delivered) and replied (of read).
  SANDBOX_RECIPIENTS: true,
  SANDBOX_RECIPIENT_FAILURES: '131026:0.03,131049:0.01,131050:0.01',
  SANDBOX_RECIPIENT_DELIVERED_RATE: 0.97,
  SANDBOX_RECIPIENT_READ_RATE: 0.7,
  SANDBOX_RECIPIENT_REPLY_RATE: 0.2,
  // Issue 16: an online backup into DATA_DIR/backups once a day (0: off), keeping the
  // newest week of them: a bad day noticed within a week can still be undone.
  BACKUP_INTERVAL_HOURS: 24,
  BACKUP_KEEP: 7,
  // Invitations and "forgot password" links are mailed from this address when SMTP_URL is set.
  SMTP_FROM: 'Parley <no-reply@localhost>',
  // Outgoing webhooks (issue 16): a failed delivery is tried again after a random wait
  // between half and all of base·2^(attempt-1), capped; an event still failing this many
  // hours after it happened is given up (recorded as skipped) and the next one goes.
  WEBHOOK_RETRY_BASE_MS: 5000,
  WEBHOOK_RETRY_CAP_MS: 3600_000,
  WEBHOOK_RETRY_HOURS: 24,
  // One delivery; Standard Webhooks receivers are asked to answer within 15 s.
  WEBHOOK_TIMEOUT_MS: 15_000,
  // Off: an endpoint may not be on loopback, a private network or link-local (the cloud's
  // metadata address), so an admin's URL cannot reach into the server's own network.
  WEBHOOK_ALLOW_PRIVATE: false,
} as const

export interface Config {
  port: number
  host: string
  /** Where people open Parley (PUBLIC_URL), for links printed outside a request; no trailing slash. */
  publicUrl: string | undefined
  dataDir: string
  /**
   * Issue 17: media files (customers' photos, documents, agents' uploads). MEDIA_DIR, else
   * DATA_DIR/media. Several processes on one PostgreSQL must share it (a mounted volume):
   * any process may serve a file another one fetched.
   */
  mediaDir: string
  databaseFile: string
  /**
   * Issue 17: where the data lives. DATABASE_URL unset or `file:` → SQLite (`databaseFile`);
   * `postgres://…` → PostgreSQL, shared by several Parley processes. The URL holds a password:
   * it is never logged.
   */
  database: { kind: 'sqlite' } | { kind: 'postgres'; url: string }
  /** This process's name among several (PARLEY_NODE_ID; default host-pid-random): owner of leases, in logs. */
  nodeId: string
  /** PostgreSQL: the event log read when nothing woke the process sooner (PG_POLL_MS). */
  pgPollMs: number
  /** PostgreSQL: connections in this process's pool (PG_POOL_SIZE). */
  pgPoolSize: number
  metaAppSecret: string
  metaAppSecretGenerated: boolean
  metaVerifyToken: string
  whatsapp: {
    phoneNumberId: string | undefined
    businessAccountId: string | undefined
    accessToken: string | undefined
  }
  graphApiUrl: string
  adminEmail: string | undefined
  adminPassword: string | undefined
  jwtSecret: string
  /** Seals secrets at rest (store/secret-box.ts): 64 hex digits or base64 of 32 bytes. Never logged. */
  secretKey: string
  /** The key came from PARLEY_SECRET_KEY (not the DATA_DIR/secret-key file): a restore keeps using it. */
  secretKeyFromEnv: boolean
  sessionTtlSeconds: number
  eventRetentionDays: number
  sseHeartbeatSeconds: number
  ssePingSeconds: number
  sseMaxBufferedBytes: number
  sseDrainTimeoutMs: number
  sseMaxStreamsPerSession: number
  dbBusyTimeoutMs: number
  loginRatePerMinute: number
  loginRatePerAddressPerMinute: number
  slowRequestMs: number
  presenceOfflineAfterSeconds: number
  logLevel: string
  /** Worker threads for reports (store/report-threads.ts); 0 reads in the main thread. */
  reportThreads: number
  cookieSecure: boolean
  trustProxy: boolean
  sending: {
    ratePerSecond: number
    rateMarginMs: number
    graphTimeoutMs: number
    retryBaseMs: number
    retryCapMs: number
    maxAttempts: number
    templateCacheSeconds: number
    markRead: boolean
  }
  media: {
    maxBytes: number
    uploadMaxBytes: number
  }
  messenger: {
    /** Ask Meta's User Profile API for the names of people who write to a Page. */
    fetchProfiles: boolean
  }
  /** Backoff for checking a channel's credentials while Meta is unreachable. */
  channelCheck: { retryBaseMs: number; retryCapMs: number }
  /** Sandbox mode: no WhatsApp credentials, so Graph calls go to the built-in emulator. */
  sandbox: {
    enabled: boolean
    sentDelayMs: number
    deliveredDelayMs: number
    readDelayMs: number
    ratePerSecond: number
    errorRate: number
    latencyMs: number
    duplicateRate: number
    outOfOrder: boolean
    dropRate: number
    /** Share of the sandbox Page's delivery webhooks without `mids`. */
    messengerNoMidsRate: number
    /** How the emulator plays campaign recipients (issue 7). */
    recipients: {
      enabled: boolean
      /** Meta error code → share of messages failed with it. */
      failures: Record<number, number>
      delivered: number
      read: number
      replied: number
    }
  }
  campaigns: {
    replyWindowMs: number
    optOutKeywords: string[]
    failurePauseRatio: number
    failureWindow: number
  }
  /** Issue 16: the Bearer token GET /metrics asks for; unset, /metrics is off (404). A secret: never logged. */
  metricsToken: string | undefined
  /** Scheduled online backups into DATA_DIR/backups (issue 16): every intervalHours (0: off), the newest `keep` kept. */
  backup: { intervalHours: number; keep: number }
  /** Outgoing mail (issue 13): invitations and forgot-password links. No SMTP_URL, no mail. */
  mail: {
    /** smtp://user:pass@host:587 or smtps://…; a secret (it may carry a password): never logged. */
    smtpUrl: string | undefined
    from: string
  }
  /** Outgoing webhooks (issue 16): retries, timeout, and whether private addresses may be endpoints. */
  webhooks: {
    retryBaseMs: number
    retryCapMs: number
    retryForMs: number
    timeoutMs: number
    allowPrivate: boolean
  }
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`)
  }
}

type Env = Record<string, string | undefined>

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const n = Number(raw)
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`)
  return n
}

function rate(env: Env, name: string, def: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(name, `must be a number from 0 to 1, got "${raw}"`)
  return n
}

function hours(env: Env, name: string, def: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 24 * 366)
    throw new ConfigError(name, `must be a number of hours from 0 (off) to 8784, got "${raw}"`)
  return n
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === '') return def
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`)
}

// "131026:0.03,131049:0.01": Meta error code → share; the shares add up to at most 1.
function shares(env: Env, name: string, def: string): Record<number, number> {
  const raw = str(env, name) ?? def
  const out: Record<number, number> = {}
  let sum = 0
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d+)\s*:\s*([\d.]+)$/.exec(part)
    const share = m ? Number(m[2]) : NaN
    if (!m || !Number.isFinite(share) || share < 0 || share > 1) {
      throw new ConfigError(name, `must look like "131026:0.03,131049:0.01", got "${raw}"`)
    }
    out[Number(m[1])] = share
    sum += share
  }
  if (sum > 1) throw new ConfigError(name, `shares add up to ${sum}, more than 1`)
  return out
}

// DATABASE_URL: unset or `file:[path]` is SQLite (the path, else DATA_DIR/parley.db);
// `postgres://` or `postgresql://` is PostgreSQL. Errors never repeat the URL (a password).
function databaseOf(env: Env): Config['database'] {
  const url = str(env, 'DATABASE_URL')
  if (url === undefined || url.startsWith('file:')) return { kind: 'sqlite' }
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url }
  throw new ConfigError('DATABASE_URL', 'must start with file: (SQLite) or postgres:// (PostgreSQL)')
}

function sqliteFileOf(env: Env, dataDir: string): string {
  const url = str(env, 'DATABASE_URL')
  const file = url?.startsWith('file:') ? url.slice('file:'.length).replace(/^\/\//, '') : ''
  return file ? path.resolve(file) : path.join(dataDir, 'parley.db')
}

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim()
  return v === undefined || v === '' ? undefined : v
}

// Secrets the operator did not set are generated once and kept in the data dir,
// so restarts keep sessions valid and webhooks signed by the sandbox verifiable.
function persistedSecret(dataDir: string, file: string): string {
  const p = path.join(dataDir, file)
  if (existsSync(p)) return readFileSync(p, 'utf8').trim()
  const s = randomBytes(32).toString('hex')
  writeFileSync(p, s + '\n', { mode: 0o600 })
  return s
}

/** The key that seals secrets at rest (store/secret-box.ts): PARLEY_SECRET_KEY, else DATA_DIR/secret-key. */
function secretKeyOf(env: Env, dataDir: string): string {
  const given = str(env, 'PARLEY_SECRET_KEY')
  if (given !== undefined) {
    if (!/^[0-9a-f]{64}$/i.test(given.trim()) && Buffer.from(given.trim(), 'base64').length !== 32)
      throw new ConfigError('PARLEY_SECRET_KEY', 'must be 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)')
    return given.trim()
  }
  return persistedSecret(dataDir, 'secret-key')
}

/**
 * A server on PostgreSQL (issue 17) is one of several processes, which must share these: a
 * secret one process generated into its own DATA_DIR would sign sessions, open sealed tokens
 * or verify webhooks in that one only. Checked at `npm start` (tools like db:copy need none).
 */
export function assertSharedSecrets(env: Env = process.env): void {
  for (const name of ['JWT_SECRET', 'PARLEY_SECRET_KEY', 'META_APP_SECRET', 'META_VERIFY_TOKEN']) {
    if (str(env, name) === undefined)
      throw new ConfigError(name, 'must be set with a postgres:// DATABASE_URL: every process needs the same value')
  }
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const dataDir = path.resolve(str(env, 'DATA_DIR') ?? DEFAULTS.DATA_DIR)
  const port = int(env, 'PORT', DEFAULTS.PORT, 0, 65535)
  const graphApiUrl = (str(env, 'GRAPH_API_URL') ?? DEFAULTS.GRAPH_API_URL).replace(/\/+$/, '')
  try {
    const u = new URL(graphApiUrl)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error()
  } catch {
    throw new ConfigError('GRAPH_API_URL', `must be an http(s) URL, got "${graphApiUrl}"`)
  }
  const publicUrl = str(env, 'PUBLIC_URL')?.replace(/\/+$/, '')
  if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(publicUrl)) {
    throw new ConfigError('PUBLIC_URL', `must be an http(s) URL, got "${publicUrl}"`)
  }
  const adminEmail = str(env, 'ADMIN_EMAIL')
  const adminPassword = str(env, 'ADMIN_PASSWORD')
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(adminEmail ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL', 'must be set together with the other')
  }
  if (adminEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) {
    throw new ConfigError('ADMIN_EMAIL', `is not an email address: "${adminEmail}"`)
  }
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be at least 8 characters')
  }
  const jwtFromEnv = str(env, 'JWT_SECRET')
  if (jwtFromEnv !== undefined && jwtFromEnv.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters')
  }
  const logLevel = str(env, 'LOG_LEVEL') ?? DEFAULTS.LOG_LEVEL
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent`)
  }
  const timing = {
    sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS', DEFAULTS.SESSION_TTL_SECONDS, 1, 30 * 86400),
    eventRetentionDays: int(env, 'EVENT_RETENTION_DAYS', DEFAULTS.EVENT_RETENTION_DAYS, 1, 3650),
    sseHeartbeatSeconds: int(env, 'SSE_HEARTBEAT_SECONDS', DEFAULTS.SSE_HEARTBEAT_SECONDS, 1, 300),
    ssePingSeconds: int(env, 'SSE_PING_SECONDS', DEFAULTS.SSE_PING_SECONDS, 1, 300),
    sseMaxBufferedBytes: int(env, 'SSE_MAX_BUFFERED_BYTES', DEFAULTS.SSE_MAX_BUFFERED_BYTES, 1024, 1 << 30),
    sseDrainTimeoutMs: int(env, 'SSE_DRAIN_TIMEOUT_MS', DEFAULTS.SSE_DRAIN_TIMEOUT_MS, 100, 600_000),
    dbBusyTimeoutMs: int(env, 'DB_BUSY_TIMEOUT_MS', DEFAULTS.DB_BUSY_TIMEOUT_MS, 0, 600_000),
    loginRatePerMinute: int(env, 'LOGIN_RATE_PER_MINUTE', DEFAULTS.LOGIN_RATE_PER_MINUTE, 1, 100_000),
    loginRatePerAddressPerMinute: int(env, 'LOGIN_RATE_PER_ADDRESS_PER_MINUTE', DEFAULTS.LOGIN_RATE_PER_ADDRESS_PER_MINUTE, 1, 100_000),
    sseMaxStreamsPerSession: int(env, 'SSE_MAX_STREAMS_PER_SESSION', DEFAULTS.SSE_MAX_STREAMS_PER_SESSION, 1, 1_000_000),
    slowRequestMs: int(env, 'SLOW_REQUEST_MS', DEFAULTS.SLOW_REQUEST_MS, 1, 3600_000),
    presenceOfflineAfterSeconds: int(env, 'PRESENCE_OFFLINE_AFTER_SECONDS', DEFAULTS.PRESENCE_OFFLINE_AFTER_SECONDS, 1, 86400),
  }

  const sending = Object.freeze({
    ratePerSecond: int(env, 'WHATSAPP_SEND_RATE_PER_SECOND', DEFAULTS.WHATSAPP_SEND_RATE_PER_SECOND, 1, 10_000),
    rateMarginMs: int(env, 'WHATSAPP_RATE_MARGIN_MS', DEFAULTS.WHATSAPP_RATE_MARGIN_MS, 0, 1000),
    graphTimeoutMs: int(env, 'GRAPH_TIMEOUT_MS', DEFAULTS.GRAPH_TIMEOUT_MS, 100, 600_000),
    retryBaseMs: int(env, 'OUTBOX_RETRY_BASE_MS', DEFAULTS.OUTBOX_RETRY_BASE_MS, 1, 3600_000),
    retryCapMs: int(env, 'OUTBOX_RETRY_CAP_MS', DEFAULTS.OUTBOX_RETRY_CAP_MS, 1, 24 * 3600_000),
    maxAttempts: int(env, 'OUTBOX_MAX_ATTEMPTS', DEFAULTS.OUTBOX_MAX_ATTEMPTS, 1, 100),
    templateCacheSeconds: int(env, 'TEMPLATE_CACHE_SECONDS', DEFAULTS.TEMPLATE_CACHE_SECONDS, 0, 86400),
    markRead: bool(env, 'WHATSAPP_MARK_READ', DEFAULTS.WHATSAPP_MARK_READ),
  })
  const media = Object.freeze({
    maxBytes: int(env, 'MEDIA_MAX_BYTES', DEFAULTS.MEDIA_MAX_BYTES, 1024, 2 ** 31),
    uploadMaxBytes: int(env, 'MEDIA_UPLOAD_MAX_BYTES', DEFAULTS.MEDIA_UPLOAD_MAX_BYTES, 1024, 2 ** 31),
  })
  const messenger = Object.freeze({
    fetchProfiles: bool(env, 'MESSENGER_FETCH_PROFILES', DEFAULTS.MESSENGER_FETCH_PROFILES),
  })
  const sandbox = Object.freeze({
    // Both the token and the number are needed to talk to Meta; without them Parley
    // still works end to end against its own emulator.
    enabled: !(str(env, 'WHATSAPP_ACCESS_TOKEN') && str(env, 'WHATSAPP_PHONE_NUMBER_ID')),
    sentDelayMs: int(env, 'SANDBOX_SENT_DELAY_MS', DEFAULTS.SANDBOX_SENT_DELAY_MS, 0, 600_000),
    deliveredDelayMs: int(env, 'SANDBOX_DELIVERED_DELAY_MS', DEFAULTS.SANDBOX_DELIVERED_DELAY_MS, 0, 600_000),
    readDelayMs: int(env, 'SANDBOX_READ_DELAY_MS', DEFAULTS.SANDBOX_READ_DELAY_MS, 0, 600_000),
    ratePerSecond: int(env, 'SANDBOX_RATE_PER_SECOND', DEFAULTS.SANDBOX_RATE_PER_SECOND, 1, 100_000),
    errorRate: rate(env, 'SANDBOX_ERROR_RATE', DEFAULTS.SANDBOX_ERROR_RATE),
    latencyMs: int(env, 'SANDBOX_LATENCY_MS', DEFAULTS.SANDBOX_LATENCY_MS, 0, 600_000),
    duplicateRate: rate(env, 'SANDBOX_DUPLICATE_RATE', DEFAULTS.SANDBOX_DUPLICATE_RATE),
    outOfOrder: bool(env, 'SANDBOX_OUT_OF_ORDER', DEFAULTS.SANDBOX_OUT_OF_ORDER),
    dropRate: rate(env, 'SANDBOX_DROP_RATE', DEFAULTS.SANDBOX_DROP_RATE),
    messengerNoMidsRate: rate(env, 'SANDBOX_MESSENGER_NO_MIDS_RATE', DEFAULTS.SANDBOX_MESSENGER_NO_MIDS_RATE),
    recipients: Object.freeze({
      enabled: bool(env, 'SANDBOX_RECIPIENTS', DEFAULTS.SANDBOX_RECIPIENTS),
      failures: shares(env, 'SANDBOX_RECIPIENT_FAILURES', DEFAULTS.SANDBOX_RECIPIENT_FAILURES),
      delivered: rate(env, 'SANDBOX_RECIPIENT_DELIVERED_RATE', DEFAULTS.SANDBOX_RECIPIENT_DELIVERED_RATE),
      read: rate(env, 'SANDBOX_RECIPIENT_READ_RATE', DEFAULTS.SANDBOX_RECIPIENT_READ_RATE),
      replied: rate(env, 'SANDBOX_RECIPIENT_REPLY_RATE', DEFAULTS.SANDBOX_RECIPIENT_REPLY_RATE),
    }),
  })
  const keywords = (str(env, 'OPT_OUT_KEYWORDS') ?? DEFAULTS.OPT_OUT_KEYWORDS)
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
  if (keywords.length === 0) throw new ConfigError('OPT_OUT_KEYWORDS', 'must name at least one keyword')
  const campaigns = Object.freeze({
    replyWindowMs: int(env, 'CAMPAIGN_REPLY_WINDOW_HOURS', DEFAULTS.CAMPAIGN_REPLY_WINDOW_HOURS, 1, 30 * 24) * 3600_000,
    optOutKeywords: Object.freeze(keywords) as string[],
    failurePauseRatio: rate(env, 'CAMPAIGN_FAILURE_PAUSE_RATIO', DEFAULTS.CAMPAIGN_FAILURE_PAUSE_RATIO),
    failureWindow: int(env, 'CAMPAIGN_FAILURE_WINDOW', DEFAULTS.CAMPAIGN_FAILURE_WINDOW, 5, 10_000),
  })

  const smtpUrl = str(env, 'SMTP_URL')
  if (smtpUrl !== undefined) {
    let ok = false
    try {
      const u = new URL(smtpUrl)
      ok = (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== ''
    } catch {}
    // The value may hold a password: the message names the shape, never the value.
    if (!ok) throw new ConfigError('SMTP_URL', 'must look like smtp://user:pass@host:587 (or smtps://)')
    // A mailed link must not take its address from a request's Host header, which anyone
    // asking for a "forgot password" mail could set to their own site.
    if (publicUrl === undefined) throw new ConfigError('PUBLIC_URL', 'must be set when SMTP_URL is: mailed links start with it')
  }
  const mail = Object.freeze({ smtpUrl, from: str(env, 'SMTP_FROM') ?? DEFAULTS.SMTP_FROM })
  // Issue 16: /metrics only with a token long enough not to be guessed (the message never holds it).
  const metricsToken = str(env, 'METRICS_TOKEN')
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken)))
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters without spaces (openssl rand -hex 24)')

  mkdirSync(dataDir, { recursive: true })
  const appSecretFromEnv = str(env, 'META_APP_SECRET')
  const database = databaseOf(env)
  return Object.freeze({
    port,
    host: str(env, 'HOST') ?? DEFAULTS.HOST,
    publicUrl,
    dataDir,
    mediaDir: path.resolve(str(env, 'MEDIA_DIR') ?? path.join(dataDir, 'media')),
    databaseFile: sqliteFileOf(env, dataDir),
    database,
    nodeId: str(env, 'PARLEY_NODE_ID') ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    pgPollMs: int(env, 'PG_POLL_MS', DEFAULTS.PG_POLL_MS, 20, 500),
    pgPoolSize: int(env, 'PG_POOL_SIZE', DEFAULTS.PG_POOL_SIZE, 2, 1000),
    metaAppSecret: appSecretFromEnv ?? persistedSecret(dataDir, 'meta-app-secret'),
    metaAppSecretGenerated: appSecretFromEnv === undefined,
    metaVerifyToken: str(env, 'META_VERIFY_TOKEN') ?? persistedSecret(dataDir, 'meta-verify-token'),
    whatsapp: Object.freeze({
      phoneNumberId: str(env, 'WHATSAPP_PHONE_NUMBER_ID'),
      businessAccountId: str(env, 'WHATSAPP_BUSINESS_ACCOUNT_ID'),
      accessToken: str(env, 'WHATSAPP_ACCESS_TOKEN'),
    }),
    graphApiUrl,
    adminEmail,
    adminPassword,
    jwtSecret: jwtFromEnv ?? persistedSecret(dataDir, 'jwt-secret'),
    secretKey: secretKeyOf(env, dataDir),
    secretKeyFromEnv: str(env, 'PARLEY_SECRET_KEY') !== undefined,
    ...timing,
    logLevel,
    reportThreads: int(env, 'REPORT_THREADS', DEFAULTS.REPORT_THREADS, 0, 8),
    cookieSecure: env.COOKIE_SECURE === 'true',
    trustProxy: env.TRUST_PROXY === undefined ? DEFAULTS.TRUST_PROXY : env.TRUST_PROXY === 'true',
    sending,
    media,
    messenger,
    channelCheck: Object.freeze({
      retryBaseMs: int(env, 'CHANNEL_CHECK_RETRY_BASE_MS', DEFAULTS.CHANNEL_CHECK_RETRY_BASE_MS, 1, 24 * 3600_000),
      retryCapMs: int(env, 'CHANNEL_CHECK_RETRY_CAP_MS', DEFAULTS.CHANNEL_CHECK_RETRY_CAP_MS, 1, 7 * 24 * 3600_000),
    }),
    sandbox,
    campaigns,
    backup: Object.freeze({
      intervalHours: hours(env, 'BACKUP_INTERVAL_HOURS', DEFAULTS.BACKUP_INTERVAL_HOURS),
      keep: int(env, 'BACKUP_KEEP', DEFAULTS.BACKUP_KEEP, 1, 10_000),
    }),
    mail,
    metricsToken,
    webhooks: Object.freeze({
      retryBaseMs: int(env, 'WEBHOOK_RETRY_BASE_MS', DEFAULTS.WEBHOOK_RETRY_BASE_MS, 1, 24 * 3600_000),
      retryCapMs: int(env, 'WEBHOOK_RETRY_CAP_MS', DEFAULTS.WEBHOOK_RETRY_CAP_MS, 1, 24 * 3600_000),
      retryForMs: int(env, 'WEBHOOK_RETRY_HOURS', DEFAULTS.WEBHOOK_RETRY_HOURS, 1, 7 * 24) * 3600_000,
      timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', DEFAULTS.WEBHOOK_TIMEOUT_MS, 100, 600_000),
      allowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE', DEFAULTS.WEBHOOK_ALLOW_PRIVATE),
    }),
  })
}

/** Loads `.env` from the working directory when present (Node's own parser). */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file)
}
