// Sandbox mode: Parley without a Meta account. When WHATSAPP_ACCESS_TOKEN and
// WHATSAPP_PHONE_NUMBER_ID are not both set, a sandbox WhatsApp number is created, the
// Graph client talks to the emulator mounted in this same process, and the emulator
// sends its signed webhooks to this process's real webhook route — the full path a
// message from Meta takes, on a laptop.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { and, eq } from 'drizzle-orm'
import type { Config } from '../config.ts'
import type { Db } from '../store/db.ts'
import { channels } from '../store/schema.ts'
import type { SecretBox } from '../store/secret-box.ts'
import { Emulator, GRAPH_VERSION } from './emulator.ts'
import { attachMessenger, MessengerEmulator } from './emulator-messenger.ts'
import { RecipientPlayer } from './emulator-campaign.ts'

// The ids Meta's own examples use (meta-platform-facts.md §6): recognisably fake.
export const SANDBOX_PHONE_NUMBER_ID = '100000000000002'
export const SANDBOX_WABA_ID = '100000000000001'
export const SANDBOX_DISPLAY_NUMBER = '15550001000'
const SANDBOX_FALLBACK_PHONE_NUMBER_ID = '100000000000003'
// The sandbox Page (not Meta's example Page 100000000000010, which tests connect as a real one).
export const SANDBOX_PAGE_ID = '100000000000011'
const SANDBOX_FALLBACK_PAGE_ID = '100000000000012'

/** The sandbox number's tokens start so: its calls go to the emulator, any other channel's to Meta. */
export const SANDBOX_TOKEN_PREFIX = 'sandbox-'

export interface SandboxMode {
  emulator: Emulator
  /** The sandbox Page's Send API and its simulated Messenger users. */
  messenger: MessengerEmulator
  channelId: number
  /** This token is the sandbox number's (and not a real channel's added in Settings). */
  owns(token: string): boolean
  /** The Graph base URL while listening (the emulator's address in this process). */
  graphBaseUrl(): string
  /** Called once the server listens: now the emulator knows where to send webhooks. */
  listening(address: AddressInfo | string | null): string | undefined
  /** Who hears of a sandbox channel added or given a new token (the app's channel checks). */
  onChannelAdded(fn: (channelId: number) => void): void
  /**
   * Starts the emulator and, unless a test or benchmark installed its own, the campaign
   * audience that delivers, reads, fails and answers the sandbox's broadcasts.
   */
  start(): void
  stop(): void
}

/** A channel row as read, with its token opened (stored sealed, issue 16). */
function opened<R extends { accessToken: string | null }>(secrets: SecretBox, row: R | undefined): R | undefined {
  return row && { ...row, accessToken: secrets.openOrNull(row.accessToken) }
}

// In the sandbox, one reply in ten says STOP, so the opt-out path shows in a demo.
const SANDBOX_STOP_SHARE = 0.1

export function createSandbox(config: Readonly<Config>, db: Db, workspaceId: number, secrets: SecretBox): SandboxMode {
  // A sandbox channel was added (the Page) or given a new token: Settings checks it like
  // any other. One may be added while this is built, before the app registers its listener.
  let channelAdded: ((channelId: number) => void) | undefined
  const addedEarly: number[] = []
  const onChannelAdded = (id: number) => (channelAdded ? channelAdded(id) : addedEarly.push(id))
  // Tokens are stored sealed (issue 16): opened here, sealed on every write below.
  const find = (id: string) =>
    opened(
      secrets,
      db
        .select()
        .from(channels)
        .where(and(eq(channels.kind, 'whatsapp'), eq(channels.externalId, id)))
        .get(),
    )
  let phoneNumberId = config.whatsapp.phoneNumberId ?? SANDBOX_PHONE_NUMBER_ID
  let channel = find(phoneNumberId)
  if (channel?.accessToken && !channel.accessToken.startsWith(SANDBOX_TOKEN_PREFIX)) {
    // A real number (its token set in Settings) keeps its token; the sandbox takes another id.
    phoneNumberId = phoneNumberId === SANDBOX_PHONE_NUMBER_ID ? SANDBOX_FALLBACK_PHONE_NUMBER_ID : SANDBOX_PHONE_NUMBER_ID
    channel = find(phoneNumberId)
  }
  const wabaId = config.whatsapp.businessAccountId ?? SANDBOX_WABA_ID
  // A random token per database: the emulator accepts only it, like Meta accepts only yours.
  const token =
    channel?.accessToken?.startsWith(SANDBOX_TOKEN_PREFIX) === true
      ? channel.accessToken
      : `${SANDBOX_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`
  if (!channel) {
    channel = db
      .insert(channels)
      .values({
        workspaceId,
        kind: 'whatsapp',
        externalId: phoneNumberId,
        name: 'WhatsApp sandbox',
        displayPhoneNumber: SANDBOX_DISPLAY_NUMBER,
        businessAccountId: wabaId,
        accessToken: secrets.seal(token),
        enabled: true,
      })
      .returning()
      .get()
  } else {
    channel = db
      .update(channels)
      .set({
        accessToken: secrets.seal(token),
        // Meta's verdict on another token says nothing of this one: checked again at start.
        ...(channel.accessToken !== token ? { credentialsStatus: null, credentialsCheckedAt: null, credentialsDetail: null } : {}),
        businessAccountId: channel.businessAccountId ?? wabaId,
        displayPhoneNumber: channel.displayPhoneNumber ?? SANDBOX_DISPLAY_NUMBER,
        enabled: true,
      })
      .where(eq(channels.id, channel.id))
      .returning()
      .get()
  }
  const s = config.sandbox
  const emulator = new Emulator({
    numbers: [
      {
        phoneNumberId,
        displayPhoneNumber: channel.displayPhoneNumber ?? SANDBOX_DISPLAY_NUMBER,
        wabaId: channel.businessAccountId ?? wabaId,
        accessToken: token,
      },
    ],
    appSecret: config.metaAppSecret,
    stateDir: path.join(config.dataDir, 'sandbox'),
    statusDelays: { sentMs: s.sentDelayMs, deliveredMs: s.deliveredDelayMs, readMs: s.readDelayMs },
    ratePerSecond: s.ratePerSecond,
    faults: {
      errorRate: s.errorRate,
      latencyMs: s.latencyMs,
      duplicateRate: s.duplicateRate,
      outOfOrder: s.outOfOrder,
      dropRate: s.dropRate,
    },
  })
  const messenger = createSandboxPage(config, db, workspaceId, onChannelAdded, secrets)
  attachMessenger(emulator, messenger.emulator)
  // Until the server listens there is nowhere to send to; a refused connection is
  // retried by the outbox like any network failure.
  let base = 'http://127.0.0.1:0'
  let player: RecipientPlayer | undefined
  return {
    emulator,
    onChannelAdded(fn) {
      channelAdded = fn
      for (const id of addedEarly.splice(0)) fn(id)
    },
    start() {
      const r = config.sandbox.recipients
      if (r.enabled && !emulator.recipients) {
        player = emulator.recipients = new RecipientPlayer(emulator, {
          failures: r.failures,
          delivered: r.delivered,
          read: r.read,
          replied: r.replied,
          stop: SANDBOX_STOP_SHARE,
        })
      }
      emulator.start()
    },
    stop() {
      player?.stop()
      emulator.stop()
    },
    channelId: channel.id,
    messenger: messenger.emulator,
    owns: (t) => t === token || t === messenger.token,
    graphBaseUrl: () => `${base}/sandbox/graph/${GRAPH_VERSION}`,
    listening(address) {
      if (!address || typeof address === 'string') return undefined
      // Reach ourselves over loopback whatever address we listen on.
      const host =
        address.address === '0.0.0.0' || address.address === '::'
          ? '127.0.0.1'
          : address.family === 'IPv6'
            ? `[${address.address}]`
            : address.address
      base = `http://${host}:${address.port}`
      emulator.setWebhookUrl(`${base}/webhooks/whatsapp`)
      messenger.emulator.setWebhookUrl(`${base}/webhooks/messenger`)
      return base
    },
  }
}

/**
 * The sandbox Messenger Page. Its channel row is created when the first simulated
 * Messenger user is (not at startup): a newcomer who only plays WhatsApp customers sees
 * one channel, and so do tests that count channels.
 */
function createSandboxPage(
  config: Readonly<Config>,
  db: Db,
  workspaceId: number,
  onChannelAdded: (channelId: number) => void,
  secrets: SecretBox,
): { emulator: MessengerEmulator; token: string } {
  const find = (id: string) =>
    opened(
      secrets,
      db
        .select()
        .from(channels)
        .where(and(eq(channels.kind, 'messenger'), eq(channels.externalId, id)))
        .get(),
    )
  let pageId = SANDBOX_PAGE_ID
  let row = find(pageId)
  if (row?.accessToken && !row.accessToken.startsWith(SANDBOX_TOKEN_PREFIX)) {
    // A real Page was connected under this id: the sandbox takes another.
    pageId = SANDBOX_FALLBACK_PAGE_ID
    row = find(pageId)
  }
  const token =
    row?.accessToken?.startsWith(SANDBOX_TOKEN_PREFIX) === true
      ? row.accessToken
      : `${SANDBOX_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`
  const ensurePage = () => {
    const existing = find(pageId)
    if (existing) {
      const fresh = existing.accessToken !== token
      db.update(channels)
        .set({
          accessToken: secrets.seal(token),
          enabled: true,
          ...(fresh ? { credentialsStatus: null, credentialsCheckedAt: null, credentialsDetail: null } : {}),
        })
        .where(eq(channels.id, existing.id))
        .run()
      if (fresh) onChannelAdded(existing.id)
    } else {
      const added = db
        .insert(channels)
        .values({
          workspaceId,
          kind: 'messenger',
          externalId: pageId,
          name: 'Messenger sandbox',
          accessToken: secrets.seal(token),
          enabled: true,
        })
        .returning({ id: channels.id })
        .get()
      onChannelAdded(added.id)
    }
  }
  // A page already in the database keeps working with this run's token.
  if (row) ensurePage()
  const s = config.sandbox
  const emulator = new MessengerEmulator({
    pages: [{ pageId, name: 'Messenger sandbox', accessToken: token }],
    appSecret: config.metaAppSecret,
    stateDir: path.join(config.dataDir, 'sandbox'),
    delays: { deliveredMs: Math.max(s.sentDelayMs, s.deliveredDelayMs), readMs: s.readDelayMs },
    noMidsRate: s.messengerNoMidsRate,
    ensurePage,
  })
  return { emulator, token }
}
