// The campaign runner under work ownership (issue 17): a runner advances only the campaigns it
// owns (`owns`), and after `gained` it picks a campaign up where the database says it stands.
// Real parts on both databases (test/helpers/dialects.ts): the campaign service, repositories,
// inbox writer, outbox and the template list from Parley's Graph emulator; no outbox worker runs,
// so what the runner queued stays queued and can be counted. Waits are for states: the owned
// campaign being fed proves the runner's passes ran while the other one was left alone.
import pino from 'pino'
import t, { type Test } from 'tap'
import { GraphHttp } from '../src/channels/graph-http.ts'
import { ChannelProviders } from '../src/channels/index.ts'
import { WhatsAppGraph } from '../src/channels/whatsapp/graph-client.ts'
import { CampaignAnalytics } from '../src/domain/campaigns/campaign-analytics.ts'
import { CampaignRunner } from '../src/domain/campaigns/campaign-runner.ts'
import { CampaignService } from '../src/domain/campaigns/campaigns.ts'
import { ContactsService } from '../src/domain/contacts/contacts.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import { Outbox } from '../src/domain/sending/outbox.ts'
import { SendRateLimiter } from '../src/domain/sending/outbox-rate.ts'
import { TemplateService } from '../src/domain/sending/templates.ts'
import type { CampaignAudience } from '../src/events/types.ts'
import { CampaignRecipientsRepo } from '../src/store/campaign-recipients.ts'
import { type CampaignRepos, CampaignsRepo } from '../src/store/campaigns.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { ContactsRepo } from '../src/store/contacts.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { all } from '../src/store/unit.ts'
import { type DialectDb, insertId, pgDb, sqliteDb } from './helpers/dialects.ts'
import { GRAPH_TOKEN, startEmulator, until, WABA_ID } from './helpers/emulator.ts'
import { PHONE_NUMBER_ID } from './helpers/server.ts'

const WS = 1
const PER_CAMPAIGN = 4

async function world(t: Test, db: DialectDb, graphUrl: string) {
  const now = Date.now
  const channelsRepo = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
  const channel = await insertId(
    db,
    `INSERT INTO channels (workspace_id, kind, external_id, name, access_token, business_account_id, enabled) VALUES (?, 'whatsapp', ?, 'Main', ?, ?, ?)`,
    [WS, PHONE_NUMBER_ID, GRAPH_TOKEN, WABA_ID, true],
  )
  const user = await insertId(
    db,
    `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, 'a@x', 'A', 'x', 'admin')`,
    [WS],
  )
  const repos: CampaignRepos = { campaigns: new CampaignsRepo(), recipients: new CampaignRecipientsRepo() }
  const inbox = inboxRepos()
  const writer = new InboxWriter(inbox, now)
  const http = new GraphHttp({ baseUrl: () => graphUrl, timeoutMs: 5000 })
  const providers = new ChannelProviders(http)
  const outbox = new Outbox({ repos: { messages: inbox.messages, channels: channelsRepo }, writer, epoch: () => 'test', providers, now })
  const contacts = new ContactsService(new ContactsRepo(), now)
  const templates = new TemplateService(new WhatsAppGraph(http), 60_000, now)
  const channelById = (id: number) => db.runner.read(() => channelsRepo.byId(id))
  const analytics = new CampaignAnalytics(repos, db.log, now, db.runner, { onError: (err) => t.error(err) })
  let runner: CampaignRunner | undefined
  const service = new CampaignService({
    repos,
    units: db.runner,
    unitLog: db.log,
    now,
    contacts,
    templates,
    outbox,
    analytics,
    whatsappChannel: async () => channelById(channel),
    channel: channelById,
    kick: () => runner?.kick(),
    kickOutbox: () => {},
  })
  const owned = new Set<number>()
  runner = new CampaignRunner({
    campaigns: service,
    contacts,
    repos,
    sending: { templates, limiter: new SendRateLimiter(80), channel: channelById, kickOutbox: () => {} },
    units: db.runner,
    unitLog: db.log,
    store: { conversations: inbox.conversations },
    writer,
    outbox,
    now,
    log: pino({ level: 'silent' }),
    options: { ratePerSecond: 80, failurePauseRatio: 0.5, failureWindow: 50 },
    owns: (id) => owned.has(id),
  })
  t.teardown(() => runner.stop())

  /** A running campaign of hello_world to PER_CAMPAIGN new contacts tagged `tag`. */
  const running = async (tag: string) => {
    for (let i = 0; i < PER_CAMPAIGN; i++) {
      const contact = await insertId(
        db,
        `INSERT INTO contacts (workspace_id, kind, external_id, phone, name, created_at, updated_at) VALUES (?, 'whatsapp', ?, ?, ?, 1, 1)`,
        [WS, `49151${tag.length}${tag.charCodeAt(0)}${i}`, `+49151${tag.length}${tag.charCodeAt(0)}${i}`, `${tag} ${i}`],
      )
      await db.exec('INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?)', [WS, contact, tag])
    }
    const audience: CampaignAudience = { kind: 'tags', tags: [tag], match: 'any' }
    const input = { name: tag, template: { name: 'hello_world', language: 'en_US' }, params: { body: {}, header: {} }, audience }
    const created = await db.log.transact((batch) => service.createUnit(WS, user, input, channel, null, batch))
    const at = now()
    await db.log.transact((batch) =>
      service.transitionUnit(
        WS,
        created.id,
        ['draft'],
        () => ({ status: 'running', startedAt: at, resumedAt: at }),
        batch,
        function* (c) {
          yield* repos.campaigns.snapshot(c, audience, at)
        },
      ),
    )
    return created.id
  }
  /** Each recipient's state, by campaign. */
  const states = async (id: number) =>
    (
      await db.runner.read(() =>
        all<{ status: string }>('SELECT state AS status FROM campaign_recipients WHERE campaign_id = ? ORDER BY id', [id]),
      )
    ).map((r) => r.status)
  const queuedMessages = async () =>
    Number((await db.readOther<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'`))[0]!.n)
  return { runner, owned, running, states, queuedMessages }
}

for (const dialect of ['sqlite', 'postgresql'] as const) {
  t.test(`${dialect}: a campaign not owned is not advanced; after gained it is, from where the database says`, async (t) => {
    const db = dialect === 'sqlite' ? await sqliteDb(t) : await pgDb(t)
    if (!db) return
    const emu = await startEmulator(t)
    const w = await world(t, db, emu.graphUrl)
    const mine = await w.running('mine')
    const theirs = await w.running('theirs')
    w.owned.add(mine)
    w.runner.start()

    await until(async () => (await w.states(mine)).every((s) => s === 'queued'), 'the owned campaign queued', 20_000)
    // The runner has been through passes that claimed for `mine`: `theirs` was looked at and left alone.
    t.same(await w.states(theirs), Array(PER_CAMPAIGN).fill('pending'), 'nothing of the campaign owned elsewhere is claimed')
    t.equal(await w.queuedMessages(), PER_CAMPAIGN, 'only the owned campaign has messages queued')

    // Another process made progress on `theirs` before this one gains it: one recipient is
    // already past pending (settled by hand here, as that process's claim left it).
    await db.exec(
      `UPDATE campaign_recipients SET state = 'skipped', skip_reason = 'opted_out' WHERE id = (SELECT MIN(id) FROM campaign_recipients WHERE campaign_id = ?)`,
      [theirs],
    )
    w.owned.add(theirs)
    w.runner.gained(theirs)
    const after = await until(
      async () => {
        const s = await w.states(theirs)
        return s.every((x) => x !== 'pending') ? s : undefined
      },
      'the gained campaign advanced',
      20_000,
    )
    t.same(after, ['skipped', ...Array(PER_CAMPAIGN - 1).fill('queued')], 'it resumed where the database said: the rest queued, once')
    t.equal(await w.queuedMessages(), 2 * PER_CAMPAIGN - 1, 'one message per recipient queued, nobody twice')
  })
}
