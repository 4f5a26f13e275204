// Builds contacts and campaigns (issue 7) from the app's basics and the sending stack
// (issue 4), so app.ts wires them in one line: the contacts service and CSV importer,
// the campaign service, its runner and analytics, opt-out (keywords and Meta's 131050),
// reply attribution joined to the WhatsApp ingest, and — in sandbox mode — the
// emulator's campaign audience.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { Db } from '../../store/db.ts'
import type { EventLog } from '../../events/event-log.ts'
import type { InboxStore } from '../../store/inbox-store.ts'
import { ContactsRepo } from '../../store/contacts.ts'
import { type CampaignRepos, CampaignsRepo } from '../../store/campaigns.ts'
import { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import type { Emulator } from '../../sandbox/emulator.ts'
import { RecipientPlayer } from '../../sandbox/emulator-campaign.ts'
import type { Sending } from '../sending/wiring.ts'
import { ContactsService } from '../contacts/contacts.ts'
import { ContactImporter } from '../contacts/contacts-import.ts'
import { CampaignAnalytics } from './campaign-analytics.ts'
import { CampaignService } from './campaigns.ts'
import { CampaignRunner } from './campaign-runner.ts'
import { CampaignAttribution } from './campaign-attribution.ts'
import { applyMarketingPreference, MetaOptOutWatcher, OptOutKeywords } from './opt-out.ts'

export interface Campaigns {
  contacts: ContactsService
  importer: ContactImporter
  service: CampaignService
  analytics: CampaignAnalytics
  runner: CampaignRunner
  /** The sandbox's campaign audience, when the emulator runs in this process. */
  player?: RecipientPlayer
  start(): void
  stop(): void
}

export interface CampaignsDeps {
  config: Readonly<Config>
  db: Db
  events: EventLog
  store: InboxStore
  sending: Sending
  now: () => number
  log: FastifyBaseLogger
  /** The in-process emulator in sandbox mode (known once the app is built). */
  emulator: () => Emulator | undefined
}

// In the sandbox, one reply in ten says STOP, so the opt-out path shows in a demo.
const SANDBOX_STOP_SHARE = 0.1

export function createCampaigns(deps: CampaignsDeps): Campaigns {
  const { config, db, events, store, sending, now } = deps
  const log = deps.log.child({ subsystem: 'campaigns' })
  const contactsRepo = new ContactsRepo(db)
  const repos: CampaignRepos = { campaigns: new CampaignsRepo(db), recipients: new CampaignRecipientsRepo(db) }
  const contacts = new ContactsService(contactsRepo, events, now)
  const importer = new ContactImporter(events, contacts, contactsRepo, now)
  let runner: CampaignRunner | undefined
  let service: CampaignService | undefined
  const analytics = new CampaignAnalytics(repos, events, now, (id) => service!.row(id), {
    // A campaign message moved in the outbox: the backlog may have room again.
    onCampaignMessage: () => runner?.kick(),
    onError: (err) => log.error({ err }, 'campaign analytics update failed'),
  })
  service = new CampaignService({
    repos,
    events,
    now,
    contacts,
    templates: sending.templates,
    outbox: sending.outbox,
    analytics,
    whatsappChannel: (ws) => sending.replies.whatsappChannel(ws),
    channel: (id) => sending.replies.channel(id),
    kick: () => runner?.kick(),
    kickOutbox: () => sending.worker.kick(),
  })
  runner = new CampaignRunner({
    campaigns: service,
    contacts,
    repos,
    sending: {
      templates: sending.templates,
      limiter: sending.limiter,
      channel: (id) => sending.replies.channel(id),
      kickOutbox: () => sending.worker.kick(),
    },
    events,
    store,
    outbox: sending.outbox,
    now,
    log,
    options: {
      ratePerSecond: config.sending.ratePerSecond,
      failurePauseRatio: config.campaigns.failurePauseRatio,
      failureWindow: config.campaigns.failureWindow,
    },
  })
  const keywords = new OptOutKeywords(config.campaigns.optOutKeywords)
  const attribution = new CampaignAttribution(repos.recipients, store, contacts, keywords, config.campaigns.replyWindowMs, (id) =>
    analytics.touch(id),
  )
  const watcher = new MetaOptOutWatcher(contactsRepo, events, contacts, (err) => log.error({ err }, 'opt-out from 131050 failed'))

  // Joined to the WhatsApp ingest after sending's own hook (media downloads).
  const before = sending.ingestHooks
  sending.ingestHooks = {
    ...before,
    messageStored: (channel, row, batch) => {
      const current = before.messageStored?.(channel, row, batch) ?? row
      return attribution.onInbound(channel, current, batch) ?? current
    },
    marketingPreference: (_channel, contact, pref, batch) => {
      applyMarketingPreference(contacts, contact.id, pref.value, pref.timestamp, batch)
    },
  }

  const out: Campaigns = {
    contacts,
    importer,
    service,
    analytics,
    runner,
    start() {
      const emulator = deps.emulator()
      const r = config.sandbox.recipients
      if (emulator && r.enabled && !emulator.recipients) {
        out.player = new RecipientPlayer(emulator, {
          failures: r.failures,
          delivered: r.delivered,
          read: r.read,
          replied: r.replied,
          stop: SANDBOX_STOP_SHARE,
        })
        emulator.recipients = out.player
      }
      analytics.start()
      watcher.start()
      runner!.start()
    },
    stop() {
      runner!.stop()
      watcher.stop()
      analytics.stop()
      out.player?.stop()
    },
  }
  return out
}
