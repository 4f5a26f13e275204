// Messenger contacts' names. Messenger webhooks carry only the sender's PSID (WhatsApp's
// carry `contacts[].profile.name`), so after a message from a contact without a name is
// committed, Parley asks Meta's User Profile API (GET /{psid}?fields=first_name,last_name
// with the Page token as a Bearer header) and stores the name with the events the inbox
// needs — never inside the webhook's transaction, never holding up its 200.
//
// Meta may refuse profile access (an app without "Business Asset User Profile Access",
// some PSIDs): Parley then keeps showing the PSID and remembers the refusal in memory, so
// it does not ask again for every message; a restart may try again. Transient failures
// (network, 5xx, Meta's busy and rate-limit codes) are retried a few times with backoff.
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { EventLog, UnitLog } from '../../events/event-log.ts'
import { GraphError } from '../../channels/graph-http.ts'
import type { MessengerGraph } from '../../channels/messenger/graph-client.ts'
import type { Db } from '../../store/db.ts'
import type { ChannelRow, ContactRow, InboxStore } from '../../store/inbox-store.ts'
import { ContactsService } from './contacts.ts'
import { ContactsRepo } from '../../store/contacts.ts'
import { SqliteRunner, type UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { retryDelay } from '../sending/outbox-rate.ts'
import { Wakeup } from '../wakeup.ts'
import type { InboxWriter } from '../inbox/writer.ts'

// A name is a nicety, not worth many sockets: a burst of new customers is fetched a few
// at a time while sends and media keep the Graph connections they need.
const PROFILE_CONCURRENCY = 4
// Attempts per contact for transient failures; then the PSID stays until the contact
// writes again after the cool-down below.
const PROFILE_MAX_ATTEMPTS = 4
// Full-jitter backoff under base·2^attempt: under 1 s, 2 s, 4 s — Meta's hiccups and
// per-app rate limits (codes 4, 17, 32, 613) clear within seconds to minutes.
const PROFILE_RETRY_BASE_MS = 1000
const PROFILE_RETRY_CAP_MS = 60_000
// After the retries are spent, a new message asks again only after this long, so an
// outage at Meta costs a few calls per contact per quarter hour, not per message.
const PROFILE_GIVE_UP_COOLDOWN_MS = 15 * 60_000
// Refusals are remembered in memory; a bound keeps a Page with millions of refused PSIDs
// from growing the process without limit (the oldest are forgotten, and asked again once).
const MAX_REMEMBERED_REFUSALS = 100_000
// Stored names are display text from Meta; the same bound as a WhatsApp profile name.
const MAX_NAME_LENGTH = 200

/** Meta's transient codes: unknown error, service unavailable, and the rate limits. */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 613])
/**
 * Codes that refuse the app or its token, not one person: 190 token invalid, 10/200/3
 * permission, 230 Messenger permission. Remembered per Page and token, so a token an admin
 * renews in Settings is tried again at once.
 */
const PAGE_REFUSAL_CODES = new Set([3, 10, 190, 200, 230])

export interface MessengerProfilesDeps {
  /** SQLite: the database and its event log, when `units` and `unitLog` are not given. */
  db?: Db
  store: InboxStore
  /** Messages and conversations change only through the inbox writer. */
  writer: InboxWriter
  events?: EventLog
  /**
   * Issue 17: the name's write with its events (absent: `events.unitLog()`, SQLite) and the
   * reads before a fetch (absent: a SqliteRunner on `db`). On PostgreSQL pass both.
   */
  unitLog?: UnitLog
  units?: UnitRunner
  graph: Pick<MessengerGraph, 'userProfile'>
  /** MESSENGER_FETCH_PROFILES: off for apps without profile access. */
  enabled: boolean
  now: () => number
  log: FastifyBaseLogger
}

interface Job {
  contactId: number
  channelId: number
  attempts: number
  dueAt: number
}

type Outcome = 'transient' | 'refused_contact' | 'refused_page'

export class MessengerProfiles {
  /** Queued or in flight, by contact id: one fetch per contact at a time. */
  private readonly jobs = new Map<number, Job>()
  private readonly inFlight = new Set<number>()
  /** Contact id → until when not to ask (Infinity: until restart). */
  private readonly refusedContacts = new Map<number, number>()
  /** Channel id → fingerprint of the token Meta refused. */
  private readonly refusedPages = new Map<number, string>()
  private readonly contacts: ContactsService
  private readonly wakeup = new Wakeup(() => this.pump())
  private readonly log: UnitLog
  private readonly units: UnitRunner

  constructor(private readonly deps: MessengerProfilesDeps) {
    // Only the service's units are used here (rowUnit, dtoUnit), run by this class's UnitLog
    // or UnitRunner on either database (issue 17): nothing here runs a unit at once on SQLite.
    this.contacts = new ContactsService(new ContactsRepo(), deps.now)
    const log = deps.unitLog ?? deps.events?.unitLog()
    const units = deps.units ?? (deps.db ? new SqliteRunner(deps.db.$client) : undefined)
    if (!log || !units) throw new Error('messenger profiles: give unitLog and units, or SQLite events and db')
    this.log = log
    this.units = units
  }

  /**
   * Ingest hook, inside the webhook's transaction: a message from a contact without a
   * name queues a fetch. Nothing is fetched here; the queue runs after the commit and
   * re-reads the contact then (a rolled-back webhook leaves nothing to fetch).
   */
  contactWrote(channel: ChannelRow, contact: ContactRow): void {
    if (!this.deps.enabled || channel.kind !== 'messenger') return
    if (contact.name !== null || contact.profileName !== null) return
    if (this.jobs.has(contact.id) || this.isRefused(contact.id, channel)) return
    this.jobs.set(contact.id, { contactId: contact.id, channelId: channel.id, attempts: 0, dueAt: this.deps.now() })
    setImmediate(() => this.kick())
  }

  /** Contacts whose fetch is queued, waiting for a retry, or in flight (0: nothing more will be asked). */
  pending(): number {
    return this.jobs.size
  }

  start(): void {
    this.wakeup.start()
  }

  /**
   * Stops fetching. A fetch in flight is abandoned without waiting: its answer would be
   * dropped anyway (the database closes next), and the contact is asked about again
   * when it next writes.
   */
  stop(): void {
    this.wakeup.stop()
  }

  private kick(): void {
    this.wakeup.after(0)
  }

  private get stopped(): boolean {
    return this.wakeup.stopped
  }

  private pump(): void {
    if (this.stopped) return
    const now = this.deps.now()
    let next = Infinity
    for (const job of this.jobs.values()) {
      if (this.inFlight.has(job.contactId)) continue
      if (job.dueAt > now) {
        next = Math.min(next, job.dueAt)
        continue
      }
      if (this.inFlight.size >= PROFILE_CONCURRENCY) break
      this.inFlight.add(job.contactId)
      void this.fetchOne(job)
        .catch((err) => {
          // Bookkeeping failed (the database is closing, or full): the name can wait.
          this.jobs.delete(job.contactId)
          if (!this.stopped) this.deps.log.error({ err, contactId: job.contactId }, 'messenger profile: bookkeeping failed')
        })
        .finally(() => {
          this.inFlight.delete(job.contactId)
          this.kick()
        })
    }
    if (next !== Infinity) this.wakeup.after(next - now)
  }

  private async fetchOne(job: Job): Promise<void> {
    const target = await this.units.read(() => this.target(job))
    if (this.stopped) return // the database may be closed
    if (!target) {
      this.jobs.delete(job.contactId)
      return
    }
    const { contact, channel, token } = target
    let profile: { firstName: string | null; lastName: string | null }
    try {
      profile = await this.deps.graph.userProfile(contact.externalId, token)
    } catch (err) {
      if (this.stopped) return
      this.failed(job, channel, token, err)
      return
    }
    if (this.stopped) return // the database may be closed
    this.jobs.delete(job.contactId)
    const name = [profile.firstName, profile.lastName].filter(Boolean).join(' ').slice(0, MAX_NAME_LENGTH).trim()
    if (!name) {
      // Meta answered without a name: asking again would get the same.
      this.remember(job.contactId, Infinity)
      return
    }
    await this.store(contact, name)
  }

  /** The contact and its Page as committed now; undefined when there is nothing to fetch. */
  private *target(job: Job): Q<{ contact: ContactRow; channel: ChannelRow; token: string } | undefined> {
    const { store } = this.deps
    const channel = yield* store.channels.byId(job.channelId)
    if (!channel || !channel.enabled || channel.kind !== 'messenger' || !channel.accessToken) return undefined
    const contact = yield* this.contacts.rowUnit(channel.workspaceId, job.contactId)
    // Named meanwhile (an agent, or an earlier fetch), or not this Page's person.
    if (!contact || contact.kind !== 'messenger' || contact.name !== null || contact.profileName !== null) return undefined
    if (!(yield* store.conversations.conversationByChannelContact(channel.id, contact.id))) return undefined
    if (this.isRefused(contact.id, channel)) return undefined
    return { contact, channel, token: channel.accessToken }
  }

  /** One transaction: the name, the contact event, and each of its conversations' events. */
  private async store(contact: ContactRow, profileName: string): Promise<void> {
    const ws = contact.workspaceId
    const { store, writer, now } = this.deps
    const contacts = this.contacts
    await this.log.transact(function* (batch) {
      const current = yield* contacts.rowUnit(ws, contact.id)
      if (!current) return
      // The WhatsApp rule: an agent-set name wins over the profile name.
      const updated = yield* store.contacts.upsertContact(ws, 'messenger', current.externalId, profileName, null, now())
      if (updated.profileName === current.profileName && updated.name === current.name) return
      batch.emit(ws, 'contact.updated', { contact: yield* contacts.dtoUnit(updated) })
      for (const id of yield* store.conversations.conversationIdsOfContact(ws, contact.id)) {
        const conversation = yield* store.conversations.conversationDTO(ws, id)
        if (conversation) writer.conversationChanged(batch, ws, conversation)
      }
    })
  }

  private failed(job: Job, channel: ChannelRow, token: string, err: unknown): void {
    const outcome = classifyProfileError(err)
    const attempts = job.attempts + 1
    const reason = err instanceof GraphError ? { kind: err.kind, code: err.code, httpStatus: err.httpStatus } : { error: String(err) }
    // Never the token, the URL or Meta's text (it may echo the PSID): the kind and code say enough.
    this.deps.log.warn({ contactId: job.contactId, channelId: channel.id, attempts, outcome, ...reason }, 'messenger profile: fetch failed')
    if (outcome === 'refused_page') {
      this.jobs.delete(job.contactId)
      this.refusedPages.set(channel.id, fingerprint(token))
      // Every other contact of this Page queued behind it would be refused alike.
      for (const j of this.jobs.values()) if (j.channelId === channel.id && !this.inFlight.has(j.contactId)) this.jobs.delete(j.contactId)
      return
    }
    if (outcome === 'refused_contact') {
      this.jobs.delete(job.contactId)
      this.remember(job.contactId, Infinity)
      return
    }
    if (attempts >= PROFILE_MAX_ATTEMPTS) {
      this.jobs.delete(job.contactId)
      this.remember(job.contactId, this.deps.now() + PROFILE_GIVE_UP_COOLDOWN_MS)
      return
    }
    job.attempts = attempts
    job.dueAt = this.deps.now() + Math.max(100, retryDelay(attempts, PROFILE_RETRY_BASE_MS, PROFILE_RETRY_CAP_MS))
  }

  private isRefused(contactId: number, channel: ChannelRow): boolean {
    const page = this.refusedPages.get(channel.id)
    if (page !== undefined) {
      if (channel.accessToken && page === fingerprint(channel.accessToken)) return true
      this.refusedPages.delete(channel.id) // a new token: worth asking again
    }
    const until = this.refusedContacts.get(contactId)
    if (until === undefined) return false
    if (until > this.deps.now()) return true
    this.refusedContacts.delete(contactId)
    return false
  }

  private remember(contactId: number, until: number): void {
    this.refusedContacts.delete(contactId)
    this.refusedContacts.set(contactId, until)
    if (this.refusedContacts.size > MAX_REMEMBERED_REFUSALS) {
      this.refusedContacts.delete(this.refusedContacts.keys().next().value!)
    }
  }
}

/** What a failed profile fetch means for asking again. */
export function classifyProfileError(err: unknown): Outcome {
  if (!(err instanceof GraphError)) return 'transient'
  switch (err.kind) {
    // A GET changes nothing at Meta: a request that may or may not have arrived is safe to repeat.
    case 'not_sent':
    case 'ambiguous':
      return 'transient'
    case 'http':
      return err.httpStatus === null || err.httpStatus >= 500 || err.httpStatus === 429 ? 'transient' : 'refused_contact'
    case 'meta':
      if (err.code !== null && TRANSIENT_CODES.has(err.code)) return 'transient'
      if (err.code !== null && PAGE_REFUSAL_CODES.has(err.code)) return 'refused_page'
      // 100 (no such person for this Page, or no access to their profile) and anything
      // unknown: asking again gets the same answer. A 5xx with an unknown code is Meta's hiccup.
      return err.httpStatus !== null && err.httpStatus >= 500 ? 'transient' : 'refused_contact'
  }
}

// Kept in memory to recognise the refused token; a hash, so no copy of the token lingers.
function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 16)
}
