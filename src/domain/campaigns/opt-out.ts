// Opting out of campaigns (issue 7). Four ways in, two ways out:
//   - the customer writes a stop keyword (the whole message: "STOP", "Baja.", "parar!"),
//     marked in the webhook's own transaction, with the time and the words;
//   - the customer stops marketing messages inside WhatsApp (the `user_preferences`
//     webhook, issue 11), marked in the webhook's transaction;
//   - Meta answers 131050 ("the user has opted out of marketing messages") for a send,
//     synchronously or in a failed status — either way a `message.updated` event carries
//     it, and the contact is marked right after that commit (and, should the process die
//     in between, by the catch-up at the next start);
//   - an agent sets it by hand;
// and an agent reverses it, or the customer does by resuming marketing messages in
// WhatsApp. Campaigns skip opted-out contacts and count them.
import type { CommittedEvent, Emitter, UnitLog } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import type { ContactsRepo } from '../../store/contacts.ts'
import type { ContactsService } from '../contacts/contacts.ts'

/** Meta's code for "this user opted out of marketing messages from you". */
export const META_OPTED_OUT = 131050

/** Lower-case, accents and punctuation removed, spaces collapsed: "¡BAJA!" → "baja". */
export function normalizeKeyword(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}

export class OptOutKeywords {
  private readonly set: Set<string>

  constructor(keywords: readonly string[]) {
    this.set = new Set(keywords.map(normalizeKeyword).filter(Boolean))
  }

  /** True when the whole message is a stop keyword; "please don't stop" is not. */
  matches(text: string | null | undefined): boolean {
    if (!text || text.length > 100) return false
    return this.set.has(normalizeKeyword(text))
  }
}

/**
 * The customer stopped (or resumed) marketing messages inside WhatsApp, in the webhook's
 * transaction. Meta retries and does not order its webhooks, so the preference's own
 * time decides, not its arrival: a stop older than the last resume (or an agent's
 * reversal) does not opt the contact out again, a resume older than the opt-out does not
 * reverse it, and a duplicate changes nothing. True when the contact changed.
 */
export function* applyMarketingPreference(
  contacts: ContactsService,
  contactId: number,
  value: 'stop' | 'resume',
  at: number,
  batch: Emitter,
): Q<boolean> {
  // Meta's `detail` ("User requested to stop marketing messages") is not the customer's
  // words: the source says it all.
  return value === 'stop'
    ? yield* contacts.optOutUnit(contactId, 'whatsapp_stop', null, at, batch)
    : yield* contacts.optInUnit(contactId, 'whatsapp_resume', at, batch)
}

/**
 * Marks contacts whose sends Meta refused with 131050. Listens to committed events and
 * does its writes afterwards, outside the publishing loop (a write inside it would
 * publish out of order).
 */
export class MetaOptOutWatcher {
  private pending = new Set<number>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly repo: ContactsRepo,
    private readonly unitLog: UnitLog,
    private readonly units: UnitRunner,
    private readonly contacts: ContactsService,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false
    void this.catchUp()
  }

  /** A 131050 failure newer than the contact's last reversal, not yet marked (while Parley was down). */
  private async catchUp(): Promise<void> {
    try {
      const ids = await this.units.read(() => this.repo.unmarkedRefusals(META_OPTED_OUT))
      if (this.stopped) return
      for (const id of ids) this.pending.add(id)
      this.schedule()
    } catch (err) {
      if (!this.stopped) this.onError(err)
    }
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** After each commit (registered in app.ts): a send Meta refused with 131050. */
  readonly observe = (batch: readonly CommittedEvent[]): void => {
    for (const ev of batch) {
      if (ev.type !== 'message.updated') continue
      const m = ev.payload.message
      if (m.status === 'failed' && m.error?.code === META_OPTED_OUT) this.pending.add(m.id)
    }
    if (this.pending.size) this.schedule()
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.pending.size === 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, 0)
  }

  /** One unit for the pending messages; never throws (errors go to onError). */
  async flush(): Promise<void> {
    const ids = [...this.pending]
    this.pending.clear()
    const { repo, contacts } = this
    try {
      await this.unitLog.transact(function* (batch) {
        for (const id of ids) {
          const r = yield* repo.recipientOfMessage(id)
          if (!r || r.code !== META_OPTED_OUT) continue
          yield* contacts.optOutUnit(r.contactId, 'meta_131050', null, r.failedAt ?? Date.now(), batch)
        }
      })
    } catch (err) {
      this.onError(err)
    }
  }
}
