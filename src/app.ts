// buildApp(deps): the one wiring point. The register order below is the table of
// contents: error handling → security headers → auth → webhooks → stream → REST.
import { existsSync } from 'node:fs'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type pg from 'pg'
import helmet from '@fastify/helmet'
import type { Config } from './config.ts'
import type { Db } from './store/db.ts'
import { EventLog, systemClock, type Clock, type UnitLog } from './events/event-log.ts'
import { PgEventLog } from './events/pg-event-log.ts'
import { type EphemeralSignal, PgEphemeralRelay } from './events/pg-ephemeral.ts'
import { StreamHub } from './events/stream-hub.ts'
import { InboxStore } from './store/inbox-store.ts'
import { InboxWriter } from './domain/inbox/writer.ts'
import { SideEffects } from './domain/effects.ts'
import { SearchIndexWriter } from './store/search-index.ts'
import { AccessResolver } from './domain/accounts/access.ts'
import { ChannelMembersRepo } from './store/channel-members.ts'
import { Presence } from './domain/team/presence.ts'
import { PresenceRepo } from './store/presence.ts'
import { AuthService } from './domain/accounts/auth.ts'
import { IngestQueue } from './domain/inbox/ingest-queue.ts'
import { bootstrap } from './domain/accounts/bootstrap.ts'
import { installErrorHandler } from './http/error-handler.ts'
import { REDACT_PATHS, RequestLogController, serializeRequest } from './http/request-log.ts'
import { authPlugin } from './http/auth.ts'
import { whatsappWebhookRoutes } from './http/webhooks-whatsapp.ts'
import { streamRoutes } from './http/stream.ts'
import { conversationRoutes } from './http/conversations.ts'
import { webRoutes } from './http/web.ts'
import { ChannelDirectory } from './domain/channels/channels.ts'
import { ChannelsRepo } from './store/channels.ts'
import { ChannelChecks } from './domain/channels/channel-checks.ts'
import { messengerWebhookRoutes } from './http/webhooks-messenger.ts'
import { channelRoutes } from './http/channels.ts'
import { createSending } from './domain/sending/wiring.ts'
import type { Services } from './services.ts'
import { messageRoutes } from './http/messages.ts'
import { templateRoutes } from './http/templates.ts'
import { mediaRoutes } from './http/media.ts'
import { sandboxRoutes } from './http/sandbox.ts'
import { createSandbox } from './sandbox/sandbox-mode.ts'
import { createCampaigns } from './domain/campaigns/wiring.ts'
import { contactRoutes } from './http/contacts.ts'
import { campaignRoutes } from './http/campaigns.ts'
import { healthRoutes } from './http/health.ts'
import { passwordResetRoutes } from './http/password-reset.ts'
import { createAccounts } from './domain/accounts/wiring.ts'
import { userRoutes } from './http/users.ts'
import { WorkspaceSettingsRepo } from './store/workspace-settings.ts'
import { AutoReplies } from './domain/team/auto-replies.ts'
import { settingsRoutes } from './http/settings.ts'
import { Assignment } from './domain/team/assignment.ts'
import { AssignmentRepo } from './store/assignment.ts'
import { assignmentRoutes } from './http/assignment.ts'
import { ConversationPresence } from './domain/team/conversation-presence.ts'
import { presenceRoutes } from './http/presence.ts'
import { Labels } from './domain/labels/labels.ts'
import { labelRoutes } from './http/labels.ts'
import { searchRoutes } from './http/search.ts'
import { Snoozes } from './domain/inbox/snooze.ts'
import { SnoozeRepo } from './store/snooze.ts'
import { snoozeRoutes } from './http/snooze.ts'
import { CannedReplies } from './domain/canned/canned-replies.ts'
import { CannedRepliesRepo } from './store/canned-replies.ts'
import { cannedReplyRoutes } from './http/canned-replies.ts'
import { Notes } from './domain/notes/notes.ts'
import { MentionsRepo } from './store/mentions.ts'
import { noteRoutes } from './http/notes.ts'
import { Reports } from './domain/reports/reports.ts'
import { ReportsRepo } from './store/reports.ts'
import { InlineFacts, ThreadFacts } from './domain/reports/report-threads.ts'
import { AuditLogRepo } from './store/audit-log.ts'
import { PgRunner, SqliteRunner, type UnitRunner } from './store/runner.ts'
import { PgOwnership } from './domain/ownership/pg-ownership.ts'
import { channelName, parseOwnedName } from './domain/ownership/ownership.ts'
import { AuditLog } from './domain/audit/audit-log.ts'
import { SecretBox } from './store/secret-box.ts'
import { bindSecretBox } from './store/sealed-columns.ts'
import { sealSecretsAtRest, sealSecretsAtRestOn } from './domain/secrets/at-rest.ts'
import { BackupSchedule } from './domain/backup/schedule.ts'
import { LAST_BACKUP_META } from './store/backup-db.ts'
import { readMeta, writeMeta } from './store/db.ts'
import { reportRoutes } from './http/reports.ts'
// Issue 16: personal API tokens; a contact's data (export, erasure).
import { ApiTokens, TOKEN_SESSION_PREFIX } from './domain/tokens/api-tokens.ts'
import { ApiTokensRepo } from './store/api-tokens.ts'
import { apiTokenRoutes } from './http/api-tokens.ts'
import { ContactData } from './domain/contacts/erasure.ts'
import { ContactErasureRepo, workspaceUserIds } from './store/contact-erasure.ts'
import { contactDataRoutes } from './http/contact-data.ts'
// Issue 15: a conversation's transcript (text or printable HTML) for admins.
import { transcriptRoutes } from './http/transcript.ts'
// Issue 16: the OpenAPI document, collected from the routes registered after it.
import { openApiRoutes, registerOpenApi } from './http/openapi.ts'
// Issue 16: knowing it is healthy (/metrics, /api/admin/health).
import { createHealth } from './domain/health/wiring.ts'
import { metricsRoutes } from './http/metrics.ts'
import { adminHealthRoutes } from './http/admin-health.ts'
// Issue 16: TOTP two-factor sign-in, and the audit log's read side.
import { TwoFactor } from './domain/accounts/two-factor.ts'
import { TwoFactorRepo } from './store/two-factor.ts'
import { twoFactorRoutes } from './http/two-factor.ts'
import { auditRoutes } from './http/audit.ts'
// Issue 16: outgoing webhooks (a cursor per endpoint on the event log).
import { createWebhooks } from './domain/webhooks/wiring.ts'
import { webhookEndpointRoutes } from './http/webhook-endpoints.ts'

export interface AppDeps {
  config: Readonly<Config>
  /** SQLite, the default: the open, migrated database of this one process. */
  db?: Db
  /**
   * PostgreSQL (issue 17), shared by several processes: the pool (opened and migrated by the
   * caller) and the server's URL, for the listening connections the pool cannot hold.
   */
  pg?: { pool: pg.Pool; url: string }
  clock?: Clock
  logger?: FastifyServerOptions['logger']
}

// Prune hourly: retention is in days, so an hour of slack costs nothing.
// On close, sends in flight get this long to hear Meta's answer; past it they are
// settled as `unknown` at the next start (never resent blindly).
const SEND_STOP_GRACE_MS = 5000
const PRUNE_INTERVAL_MS = 3600_000
// On close, outgoing webhook requests in flight get this long to be answered and recorded.
const WEBHOOK_STOP_GRACE_MS = 3000
// Issue 17: the one lease whose owner runs every campaign.
const CAMPAIGNS_LEASE = 'campaigns'

// Until presence (open streams, PRESENCE_OFFLINE_AFTER_SECONDS) is wired in, everyone
// counts as present and only the availability a person sets decides automatic assignment.

export const loggerOptions = (level: string) => ({
  level,
  // Tokens, cookies and secrets never reach the log: requests are written without their
  // headers and with secret query parameters replaced (request-log.ts); redact is the
  // second line of defence for a header logged by hand.
  serializers: { req: serializeRequest },
  redact: REDACT_PATHS,
})

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db } = deps
  const clock = deps.clock ?? systemClock
  if ((db === undefined) === (deps.pg === undefined)) throw new Error('buildApp: give either db (SQLite) or pg (PostgreSQL)')
  const app = Fastify({
    logger: deps.logger ?? loggerOptions(config.logLevel),
    // One line per answered request, at a level by what it is (request-log.ts).
    logController: new RequestLogController(config.slowRequestMs),
    // Small bodies everywhere but the webhook routes, which raise their own limit.
    bodyLimit: 256 * 1024,
    trustProxy: config.trustProxy,
  })

  // The database (issue 17). SQLite: one process, the log's commits feed its streams at once.
  // PostgreSQL: every process tails the shared log and feeds its streams from it, its own
  // commits included (pg-event-log.ts); the listening connections run beside the pool.
  const pgLog = deps.pg
    ? new PgEventLog(deps.pg.pool, {
        url: deps.pg.url,
        nodeId: config.nodeId,
        pollMs: config.pgPollMs,
        clock,
        onError: (err, what) => app.log.error({ err }, `event log: ${what} failed`),
      })
    : undefined
  const events: EventLog | PgEventLog = db ? new EventLog(db, clock) : pgLog!
  const units: UnitRunner = db ? new SqliteRunner(db.$client) : new PgRunner(deps.pg!.pool)
  const unitLog: UnitLog = events instanceof EventLog ? events.unitLog() : events
  // SQLite indexes a transaction's messages for search last in it; PostgreSQL's triggers do it at once.
  const searchIndex = db ? new SearchIndexWriter(db.$client) : undefined
  await pgLog?.start()
  const hub = new StreamHub(events, {
    heartbeatMs: config.sseHeartbeatSeconds * 1000,
    pingMs: config.ssePingSeconds * 1000,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    drainTimeoutMs: config.sseDrainTimeoutMs,
    maxStreamsPerSession: config.sseMaxStreamsPerSession,
  })
  // Viewing and typing (issue 14): to this process's streams; on PostgreSQL through the relay,
  // which hands each frame to every process's streams (its own at once).
  const presenceFrame = ({ workspaceId, channelId, frame }: EphemeralSignal) =>
    hub.publishEphemeral(workspaceId, 'presence', frame, { channelId }, `${frame.conversationId}:${frame.user.id}`)
  const relay = deps.pg
    ? new PgEphemeralRelay({
        url: deps.pg.url,
        pool: deps.pg.pool,
        nodeId: config.nodeId,
        deliver: presenceFrame,
        // Another process stopped and let its numbers go: take them now, not at the next round.
        onReleased: () => ownership?.wake(),
        onError: (err, what) => app.log.error({ err }, `presence relay: ${what} failed`),
      })
    : undefined
  // Issue 16: secrets at rest. The key is checked and clear secrets sealed before anything
  // reads a channel; every repository that stores secrets seals with this box.
  const secrets = new SecretBox(SecretBox.keyFrom(config.secretKey)!)
  if (db) {
    bindSecretBox(db, secrets)
    sealSecretsAtRest(db, secrets)
  } else await sealSecretsAtRestOn(units, secrets)
  const auth = new AuthService({ units, unitLog }, clock.now)
  const { workspaceId } = await bootstrap(config, { units, channels: new ChannelsRepo(secrets) }, auth)
  // Sandbox mode: the Meta emulator in this process, built first so the Graph client knows it.
  // Not on PostgreSQL: an emulator inside one of several processes would answer only there.
  const sandbox = config.sandbox.enabled && db ? createSandbox(config, db, workspaceId, secrets) : undefined
  const store = new InboxStore(secrets, db)
  // Issue 17, several processes: each number or Page is sent on by one process at a time (its
  // per-number rate then holds across processes), and one process runs the campaigns (they
  // queue into the outbox, which each number's owner sends). A lease each, in `leases`. With
  // SQLite the one process owns everything: no ownership at all.
  const ownership = deps.pg
    ? new PgOwnership(deps.pg.pool, {
        nodeId: config.nodeId,
        onError: (err, what) => app.log.error({ err }, `ownership: ${what} failed`),
      })
    : undefined
  const effects = new SideEffects()
  const writer = new InboxWriter(store, clock.now, effects)
  const members = new ChannelMembersRepo()
  // Issue 16: counters on the hot paths (webhooks, commits, sends), everything else read when asked.
  const health = createHealth({
    config,
    isChannel: (kind, externalId) => channels.isChannel(kind, externalId),
    now: clock.now,
    openStreams: () => hub.size,
    pausedUntil: (channelId) => sending.limiter.status(channelId, clock.now()).pausedUntil,
    campaignCounts: (id) => services.campaigns.analytics.countsUnit(id),
    storageFailure: () => services.ingest.storageFailure,
  })
  const sending = createSending({
    config,
    units,
    unitLog,
    epoch: () => events.epoch,
    store,
    writer,
    now: clock.now,
    log: app.log,
    graphBaseUrl: (token) => (sandbox?.owns(token) ? sandbox.graphBaseUrl() : config.graphApiUrl),
    onSendOutcome: health.tracker.sendOutcome,
    ...(ownership ? { ownsChannel: (id: number) => ownership.owns(channelName(id)) } : {}),
  })
  // Webhook secrets and auto-assign flags from a snapshot, reloaded on every committed
  // `channel.changed`: on SQLite at its commit; on PostgreSQL when the tailer publishes it,
  // which it does for every process's commits, this one's included (one reload each).
  const channels = new ChannelDirectory({
    repo: new ChannelsRepo(secrets),
    config,
    units,
    changes: (listener) => (pgLog ? pgLog.onPublished(listener) : events.onCommitted(listener)),
    onError: (err) => app.log.error({ err }, 'channel directory reload failed; the previous snapshot answers'),
  })
  await channels.load()
  // Who is online: a person with an open stream, offline only after a grace (issue 13).
  const presence = new Presence({
    offlineAfterMs: config.presenceOfflineAfterSeconds * 1000,
    memory: {
      repo: new PresenceRepo(),
      runner: units,
      onError: (err) => app.log.error({ err }, 'presence mark failed'),
    },
    now: clock.now,
    onListenerError: (err) => app.log.error({ err }, 'presence listener failed'),
  })
  const settingsRepo = new WorkspaceSettingsRepo()
  const reportsRepo = new ReportsRepo()
  const reportUnits = units
  // Worker threads read SQLite's file beside the server; PostgreSQL is a server already.
  const reportFacts =
    db && config.reportThreads > 0 && existsSync(config.databaseFile)
      ? new ThreadFacts({ file: config.databaseFile, busyTimeoutMs: config.dbBusyTimeoutMs, threads: config.reportThreads })
      : new InlineFacts(reportsRepo, reportUnits)
  const audit = new AuditLog({ repo: new AuditLogRepo(), now: clock.now })
  const apiTokens = new ApiTokens({ repo: new ApiTokensRepo(), audit, now: clock.now })
  // A token's requests and streams run as session `token:<id>` (issue 16), read in the session's own read.
  auth.resolveSessionsWith(TOKEN_SESSION_PREFIX, (id) => apiTokens.sessionByIdUnit(id, config.sessionTtlSeconds * 1000))
  // Issue 16: scheduled online backups into DATA_DIR/backups (off with BACKUP_INTERVAL_HOURS=0).
  // SQLite's file copied online; a PostgreSQL server is backed up with its own tools (README).
  const backups =
    db && config.backup.intervalHours > 0
      ? new BackupSchedule({
          dataDir: config.dataDir,
          mediaDir: config.mediaDir,
          databaseFile: config.databaseFile,
          busyTimeoutMs: config.dbBusyTimeoutMs,
          intervalMs: config.backup.intervalHours * 3600_000,
          keep: config.backup.keep,
          now: clock.now,
          lastBackupAt: () => {
            const v = Number(readMeta(db, LAST_BACKUP_META))
            return Number.isFinite(v) && v > 0 ? v : undefined
          },
          recordBackupAt: (at) => writeMeta(db, LAST_BACKUP_META, String(at)),
          log: app.log,
        })
      : undefined
  const services: Services = {
    config,
    units,
    unitLog,
    db,
    clock,
    events,
    hub,
    store,
    writer,
    effects,
    auth,
    access: new AccessResolver(members),
    members,
    channels,
    channelChecks: new ChannelChecks({
      channels,
      providers: sending.providers,
      units,
      unitLog,
      now: clock.now,
      log: app.log,
      retryBaseMs: config.channelCheck.retryBaseMs,
      retryCapMs: config.channelCheck.retryCapMs,
    }),
    ingest: new IngestQueue(events, {
      onJobError: (err) => app.log.error({ err }, 'webhook ingest failed; payload kept raw'),
      onCommitted: (seconds) => health.tracker.ingestCommitted(seconds),
      onGroupFailed: (err, retrying) =>
        retrying
          ? app.log.warn({ err }, 'webhook group commit refused for now (deadlock or serialization); running it again')
          : app.log.error({ err }, 'webhook group commit failed; its webhooks are answered 503 and Meta retries them'),
    }),
    sending,
    sandbox,
    campaigns: createCampaigns({
      config,
      units,
      unitLog,
      store,
      writer,
      sending,
      now: clock.now,
      log: app.log,
      ...(ownership ? { ownsCampaign: () => ownership.owns(CAMPAIGNS_LEASE) } : {}),
    }),
    accounts: createAccounts({
      config,
      units,
      unitLog,
      secrets,
      auth,
      members,
      conversations: store.conversations,
      now: clock.now,
      log: app.log,
    }),
    settings: settingsRepo,
    presence,
    // Issue 14: viewing and typing, fanned out as `presence` frames without an id (never in the log).
    conversationPresence: new ConversationPresence({
      now: clock.now,
      // Keyed by conversation and person: an unsent older state of theirs there is replaced.
      publish: (workspaceId, channelId, frame) =>
        relay ? relay.publish({ workspaceId, channelId, frame }) : presenceFrame({ workspaceId, channelId, frame }),
    }),
    assignment: new Assignment({
      repo: new AssignmentRepo(),
      channels,
      store,
      writer,
      presence,
      now: clock.now,
    }),
    labels: new Labels({ repo: store.labels, writer, now: clock.now }),
    snoozes: new Snoozes({
      repo: new SnoozeRepo(),
      store,
      writer,
      unitLog,
      units,
      *timeZoneOf(ws) {
        return (yield* settingsRepo.get(ws))?.timezone
      },
      now: clock.now,
      onError: (err) => app.log.error({ err }, 'snooze wake-up failed'),
    }),
    canned: new CannedReplies({ repo: new CannedRepliesRepo(), now: clock.now }),
    notes: new Notes({ store, writer, unitLog, mentions: new MentionsRepo(), now: clock.now }),
    // Issue 15: the figures read facts the database keeps at write time (migration report_triggers).
    reports: new Reports({
      repo: reportsRepo,
      facts: reportFacts,
      units: reportUnits,
      settings: (ws) => services.units.read(() => settingsRepo.get(ws)),
      now: clock.now,
    }),
    audit,
    secrets,
    apiTokens,
    contactData: new ContactData({
      repo: new ContactErasureRepo(),
      unitLog,
      audit,
      mediaDir: config.mediaDir,
      now: clock.now,
      // Open streams refetch what they show: the erased conversations are gone from it.
      afterErase: async (ws) => {
        const ids = await services.units.read(() => workspaceUserIds(ws))
        await Promise.all(ids.map((id) => hub.resetUser(id)))
      },
      onFileError: (err) => app.log.error({ err }, 'erasure: a media file could not be removed'),
    }),
    health,
    backups,
    twoFactor: new TwoFactor({ repo: new TwoFactorRepo(), secrets, now: clock.now, issuer: 'Parley' }),
    webhooks: createWebhooks({ config, units, events, secrets, audit, clock, log: app.log }),
  }
  const { campaigns, assignment } = services
  const autoReplies = new AutoReplies({ settings: services.settings, store, writer, outbox: sending.outbox, now: clock.now })

  // ---- Side effects: everything that happens when something is stored, in order ----
  // Inside the webhook's transaction (commits or rolls back with the message):
  effects
    // A status for a wamid Parley has not stored may name one of its sends (biz_opaque_callback_data).
    .onUnknownStatus(({ channel, status, batch }) => sending.outbox.reconcileStatus(channel, status, batch))
    // A customer's media (or the phone app's) starts downloading.
    .onMessageStored(({ channel, message }) => sending.media.onInboundStored(channel, message))
    // A reply to a campaign is attributed to it; STOP and the other keywords opt the contact out.
    .onMessageStored(({ channel, message, batch }) => campaigns.attribution.onInbound(channel, message, batch))
    // A customer stopped or resumed marketing messages inside WhatsApp.
    .onMarketingPreference(({ contact, preference, batch }) =>
      campaigns.marketingPreference(contact.id, preference.value, preference.timestamp, batch),
    )
    // A Messenger user wrote: their name is fetched from the User Profile API after the commit.
    .onContactWrote(({ channel, contact }) => sending.profiles.contactWrote(channel, contact))
    // A customer wrote to a snoozed conversation: "Snooze ended" right below their message (issue 14).
    .onCustomerWrote((e) => services.snoozes.customerWroteUnit(e))
    // A customer wrote: the greeting (a brand-new conversation) and the away message (outside business hours).
    .onCustomerWrote((e) => autoReplies.customerWroteUnit(e))
    // A new, pooled or reopened conversation goes round robin to an available member (auto-assign channels).
    // Also exported for other features: assignment.drainFor (someone became available: availability
    // set to online, presence's first stream) and assignment.unassignAllOf (deactivation).
    .onCustomerWrote((e) => assignment.customerWroteUnit(e))
  // Last inside every writing transaction, once per commit:
  if (events instanceof EventLog && searchIndex) events.onBeforeCommit(() => searchIndex.flush()) // the messages stored in it join the search index (issue 15)
  // After this process's commit, with the typed events it published, in registration order:
  if (events instanceof EventLog) events.onCommitted((committed) => hub.publish(committed)) // every stream of the workspace
  events.onCommitted(campaigns.analytics.observe) // campaign counters; a claimed campaign message wakes the runner
  events.onCommitted(campaigns.metaOptOut.observe) // a send Meta refused with 131050 opts its contact out
  events.onCommitted((committed) => AutoReplies.queuedAny(committed) && sending.worker.kick()) // an automatic reply is sent now
  if (events instanceof EventLog) events.onCommitted(services.webhooks.observe) // outgoing webhooks: the endpoints that want these events wake
  // PostgreSQL (issue 17): every process's committed events, in id order, as this process's tailer reads them:
  pgLog?.onPublished((published) => hub.publish(published)) // every stream of the workspace on this process
  pgLog?.onPublished(services.webhooks.observe) // outgoing webhooks: each endpoint's worker, whichever process claims it
  // A message queued on another process may be for a number this one sends on: look now, not at the safety tick.
  pgLog?.onPublished((published) => {
    if (!published.some((e) => e.type === 'message.created')) return
    sending.worker.kick()
    // A download queued with it is committed now (its own kick may have looked before the commit).
    sending.media.kick()
  })

  // ---- The team: what follows when people change (issue 13) ----
  // Who is online: a person's first stream opening, their last one closing (offline after the grace).
  hub.onUserStreams((userId, workspaceId, open) => presence.streams(userId, workspaceId, open))
  // Issue 14: a person's last stream closed: what they viewed or typed in goes idle; a new stream hears who is where.
  hub.onUserStreams((userId, _ws, open) => open || services.conversationPresence.userGone(userId))
  hub.ephemeralSnapshotWith((sub) =>
    services.conversationPresence
      .snapshot(sub.workspaceId)
      .map(({ channelId, frame }) => ({ type: 'presence', payload: frame, audience: { channelId } })),
  )
  // Someone became available (came online, or set themselves online): the oldest waiting pool is theirs, up to their cap.
  // (On SQLite a unit log's transact runs at once, inside the call; on PostgreSQL it is awaited.)
  const drainFor = (workspaceId: number, userId: number) =>
    void services.unitLog
      .transact((batch) => assignment.drainForUnit(batch, workspaceId, userId))
      .catch((err) => app.log.error({ err }, 'assigning the pool to someone who became available failed'))
  presence.onChange((userId, online) => {
    if (!online) return
    // The person's workspace is read in the drain's own transaction (at once on SQLite, as before).
    void services.unitLog
      .transact(function* (batch) {
        const user = yield* auth.userUnit(userId)
        if (user) yield* assignment.drainForUnit(batch, user.workspaceId, userId)
      })
      .catch((err) => app.log.error({ err }, 'assigning the pool to someone who became available failed'))
  })
  services.accounts.team.hooks
    .onAvailable(({ workspaceId, userId }) => drainFor(workspaceId, userId))
    // A change of role or channels applies to open streams at once (reset, and the client refetches).
    .onAccessChanged(({ userId }) => void hub.resetUser(userId))
    // A deactivated person's open conversations go back to the pool, with their lines and events.
    .onDeactivated(({ workspaceId, userId, actorId }) => {
      void services.unitLog
        .transact(function* (batch) {
          const by = { userId: actorId, name: (yield* auth.userUnit(actorId))?.name ?? 'An admin' }
          return yield* assignment.unassignAllOfUnit(batch, workspaceId, userId, by)
        })
        .catch((err) => app.log.error({ err }, "returning a deactivated person's conversations to the pool failed"))
    })

  // Issue 17: what this process owns follows the channels; a number gained starts with an empty
  // bucket (its previous owner may have just sent), the campaigns gained resume from the database.
  if (ownership) {
    const names = () => [...channels.channelIds().map(channelName), CAMPAIGNS_LEASE]
    channels.onReloaded(() => ownership.setNames(names()))
    ownership.setNames(names())
    ownership.onGained((name) => {
      if (name === CAMPAIGNS_LEASE) return campaigns.runner.kick()
      const owned = parseOwnedName(name)
      if (owned?.kind === 'channel') sending.worker.gained(owned.id)
    })
    ownership.onLost((name, info) => app.log.info({ name, reason: info.reason }, 'ownership: no longer working on it'))
  }

  // A sandbox channel added (the Page) or given a new token is checked like any other.
  // (Written outside the event log: the directory reloads too.)
  sandbox?.onChannelAdded((id) => {
    channels.changed()
    services.channelChecks.check(workspaceId, id)
  })

  app.decorate('services', services)
  if (config.sandbox.enabled && !db) {
    app.log.warn(
      'WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID are not set, and the sandbox runs on SQLite only: ' +
        'connect a number or Page in Settings → Channels.',
    )
  }
  if (sandbox) {
    app.log.warn(
      'SANDBOX MODE: WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID are not set, so nothing reaches Meta. ' +
        'Replies go to the built-in WhatsApp emulator; play a customer at /sandbox.',
    )
  }

  installErrorHandler(app)
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        frameAncestors: ["'none'"],
        // Helmet's default upgrade-insecure-requests makes a browser fetch the app's
        // scripts over https; on a plain-http LAN install (http://192.168.x.y:3000)
        // that fails and the inbox is blank. Only ask for it when served over TLS.
        upgradeInsecureRequests: config.cookieSecure ? [] : null,
      },
    },
  })
  // Before every route: it collects them as they are registered (issue 16).
  await registerOpenApi(app)
  await app.register(healthRoutes, { services })
  await app.register(authPlugin, { services })
  await app.register(whatsappWebhookRoutes, { services })
  await app.register(messengerWebhookRoutes, { services })
  await app.register(streamRoutes, { services })
  await app.register(conversationRoutes, { services })
  await app.register(assignmentRoutes, { services })
  await app.register(presenceRoutes, { services })
  await app.register(labelRoutes, { services })
  await app.register(searchRoutes, { services })
  await app.register(snoozeRoutes, { services })
  await app.register(noteRoutes, { services })
  await app.register(transcriptRoutes, { services })
  await app.register(channelRoutes, { services })
  await app.register(messageRoutes, { services })
  await app.register(templateRoutes, { services })
  await app.register(mediaRoutes, { services })
  await app.register(contactRoutes, { services })
  await app.register(campaignRoutes, { services })
  await app.register(passwordResetRoutes, { services })
  await app.register(userRoutes, { services })
  await app.register(settingsRoutes, { services })
  await app.register(cannedReplyRoutes, { services })
  await app.register(reportRoutes, { services })
  await app.register(apiTokenRoutes, { services })
  await app.register(contactDataRoutes, { services })
  await app.register(adminHealthRoutes, { services })
  await app.register(metricsRoutes, { services })
  await app.register(twoFactorRoutes, { services })
  await app.register(auditRoutes, { services })
  await app.register(webhookEndpointRoutes, { services })
  if (sandbox) await app.register(sandboxRoutes, { sandbox })
  await app.register(openApiRoutes)
  // Last: the browser app's catch-all GET must not shadow any route above.
  await app.register(webRoutes)

  const prune = () => {
    const before = clock.now() - config.eventRetentionDays * 86400_000
    const failed = (err: unknown) => app.log.error({ err }, 'event pruning failed')
    // On PostgreSQL one process prunes at a time; the others' tries read the mark.
    if (!(events instanceof EventLog)) return void events.prune(before).catch(failed)
    try {
      events.prune(before)
    } catch (err) {
      failed(err)
    }
  }
  let pruneTimer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    await ownership?.start()
    await relay?.start()
    await presence.start()
    hub.start()
    services.sending.start()
    services.campaigns.start()
    services.snoozes.start() // a snooze that came due while Parley was down wakes now
    backups?.start() // issue 16: BACKUP_INTERVAL_HOURS (one overdue at start is made now)
    services.webhooks.start() // each endpoint carries on from its cursor
    sandbox?.start()
    prune()
    pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS)
    pruneTimer.unref()
  })
  // preClose: streams are long-lived; without ending them close() would wait forever.
  if (sandbox) {
    const sb = sandbox
    app.addHook('onListen', async () => {
      const base = sb.listening(app.server.address())
      if (base) app.log.info(`Sandbox: customer simulator at ${base}/sandbox, Graph API emulator at ${sb.graphBaseUrl()}`)
    })
  }
  // After listen: the sandbox's emulator has its address by then.
  app.addHook('onListen', async () => services.channelChecks.start())
  app.addHook('preClose', async () => {
    services.channelChecks.stop()
    channels.stop()
    await backups?.stop()
    clearInterval(pruneTimer)
    services.campaigns.stop()
    services.snoozes.stop()
    const webhooksStopped = services.webhooks.stop(WEBHOOK_STOP_GRACE_MS)
    await services.sending.stop(SEND_STOP_GRACE_MS)
    // After the sends in flight: the numbers go to the others at once, not after the lease.
    await ownership?.stop()
    // The others take the numbers at once (a hint over the relay, still listening here).
    if (ownership) await relay?.hintReleased()
    await webhooksStopped
    sandbox?.stop()
    services.ingest.close()
    services.accounts.mailer.close()
    hub.stop()
    await services.presence.stop()
    services.conversationPresence.stop()
    await relay?.stop()
    await reportFacts.close()
    await pgLog?.stop()
  })
  return app
}
