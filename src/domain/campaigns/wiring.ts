// Builds contacts and campaigns (issue 7) from the app's basics and the sending stack
// (issue 4), so app.ts wires them in one line: the contacts service and CSV importer,
// the campaign service, its runner and analytics, opt-out (keywords and Meta's 131050)
// and reply attribution. What they do when a message is stored or a send settles is
// registered in app.ts's list of side effects.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import type { InboxStore } from '../../store/inbox-store.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { ContactsRepo } from '../../store/contacts.ts'
import { type CampaignRepos, CampaignsRepo } from '../../store/campaigns.ts'
import { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import type { UnitRunner } from '../../store/runner.ts'
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
  /** Replies attributed to the campaign they answer; stop keywords (inside the ingest's transaction). */
  attribution: CampaignAttribution
  /** Contacts Meta refused with 131050 become opted out (after the commit). */
  metaOptOut: MetaOptOutWatcher
  /** A customer stopped or resumed marketing messages in WhatsApp (inside the ingest's transaction). */
  /** A unit of work in the webhook's (store/unit.ts). */
  marketingPreference(contactId: number, value: 'stop' | 'resume', at: number, batch: Emitter): Q<boolean>
  start(): void
  stop(): void
}

export interface CampaignsDeps {
  config: Readonly<Config>
  store: InboxStore
  writer: InboxWriter
  sending: Sending
  now: () => number
  log: FastifyBaseLogger
  /** The app's database (issue 17: SQLite or PostgreSQL): where the campaigns' units run. */
  units: UnitRunner
  unitLog: UnitLog
  /** Issue 17, several processes: whether this process runs a campaign now (absent: every one). */
  ownsCampaign?: (campaignId: number) => boolean
}

export function createCampaigns(deps: CampaignsDeps): Campaigns {
  const { config, store, sending, now, units, unitLog } = deps
  const log = deps.log.child({ subsystem: 'campaigns' })
  const contactsRepo = new ContactsRepo()
  const repos: CampaignRepos = { campaigns: new CampaignsRepo(), recipients: new CampaignRecipientsRepo() }
  const contacts = new ContactsService(contactsRepo, now)
  const importer = new ContactImporter(contacts, contactsRepo, now)
  // The runner is built last (it drives the service); the service and analytics wake it
  // through this, which only runs once everything is built (start() comes after).
  const kickRunner = () => runner.kick()
  const analytics = new CampaignAnalytics(repos, unitLog, now, units, {
    // A campaign message moved in the outbox: the backlog may have room again.
    onCampaignMessage: kickRunner,
    onError: (err) => log.error({ err }, 'campaign analytics update failed'),
  })
  const service = new CampaignService({
    repos,
    units,
    unitLog,
    now,
    contacts,
    templates: sending.templates,
    outbox: sending.outbox,
    analytics,
    whatsappChannel: (ws) => sending.replies.whatsappChannel(ws),
    channel: (id) => sending.replies.channel(id),
    kick: kickRunner,
    kickOutbox: () => sending.worker.kick(),
  })
  const runner = new CampaignRunner({
    campaigns: service,
    contacts,
    repos,
    sending: {
      templates: sending.templates,
      limiter: sending.limiter,
      channel: (id) => sending.replies.channel(id),
      kickOutbox: () => sending.worker.kick(),
    },
    units,
    unitLog,
    store,
    writer: deps.writer,
    outbox: sending.outbox,
    ...(deps.ownsCampaign ? { owns: deps.ownsCampaign } : {}),
    now,
    log,
    options: {
      ratePerSecond: config.sending.ratePerSecond,
      failurePauseRatio: config.campaigns.failurePauseRatio,
      failureWindow: config.campaigns.failureWindow,
    },
  })
  const keywords = new OptOutKeywords(config.campaigns.optOutKeywords)
  const attribution = new CampaignAttribution(repos.recipients, deps.writer, contacts, keywords, config.campaigns.replyWindowMs, (id) =>
    analytics.touch(id),
  )
  const watcher = new MetaOptOutWatcher(contactsRepo, unitLog, units, contacts, (err) => log.error({ err }, 'opt-out from 131050 failed'))

  return {
    contacts,
    importer,
    service,
    analytics,
    runner,
    attribution,
    metaOptOut: watcher,
    marketingPreference: (contactId, value, at, batch) => applyMarketingPreference(contacts, contactId, value, at, batch),
    start() {
      analytics.start()
      watcher.start()
      runner.start()
    },
    stop() {
      runner.stop()
      watcher.stop()
      analytics.stop()
    },
  }
}
