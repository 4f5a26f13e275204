// The services every route is given, as one type: route files import it from here, not
// from app.ts, so the wiring point and the routes it registers never import each other.
import type { Config } from './config.ts'
import type { Db } from './store/db.ts'
import type { Clock, EventLog, UnitLog } from './events/event-log.ts'
import type { PgEventLog } from './events/pg-event-log.ts'
import type { UnitRunner } from './store/runner.ts'
import type { StreamHub } from './events/stream-hub.ts'
import type { InboxStore } from './store/inbox-store.ts'
import type { InboxWriter } from './domain/inbox/writer.ts'
import type { SideEffects } from './domain/effects.ts'
import type { AuthService } from './domain/accounts/auth.ts'
import type { AccessResolver } from './domain/accounts/access.ts'
import type { ChannelMembersRepo } from './store/channel-members.ts'
import type { IngestQueue } from './domain/inbox/ingest-queue.ts'
import type { ChannelDirectory } from './domain/channels/channels.ts'
import type { ChannelChecks } from './domain/channels/channel-checks.ts'
import type { Sending } from './domain/sending/wiring.ts'
import type { SandboxMode } from './sandbox/sandbox-mode.ts'
import type { Campaigns } from './domain/campaigns/wiring.ts'
import type { Accounts } from './domain/accounts/wiring.ts'
import type { WorkspaceSettingsRepo } from './store/workspace-settings.ts'
import type { Assignment } from './domain/team/assignment.ts'
import type { Presence } from './domain/team/presence.ts'
import type { ConversationPresence } from './domain/team/conversation-presence.ts'
import type { Labels } from './domain/labels/labels.ts'
import type { Snoozes } from './domain/inbox/snooze.ts'
import type { CannedReplies } from './domain/canned/canned-replies.ts'
import type { Notes } from './domain/notes/notes.ts'
import type { Reports } from './domain/reports/reports.ts'
import type { AuditLog } from './domain/audit/audit-log.ts'
import type { SecretBox } from './store/secret-box.ts'
import type { ApiTokens } from './domain/tokens/api-tokens.ts'
import type { ContactData } from './domain/contacts/erasure.ts'
import type { Health } from './domain/health/health.ts'
import type { BackupSchedule } from './domain/backup/schedule.ts'
import type { TwoFactor } from './domain/accounts/two-factor.ts'
import type { Webhooks } from './domain/webhooks/webhooks.ts'

export interface Services {
  config: Readonly<Config>
  /**
   * Issue 17, code written as units of work (store/unit.ts) for both databases: `units` runs a
   * unit in a transaction (or a read), `unitLog` a writing unit with its events.
   */
  units: UnitRunner
  unitLog: UnitLog
  /** SQLite's database (absent on PostgreSQL, issue 17): for tests and SQLite-only tools. */
  db: Db | undefined
  clock: Clock
  /** The event log: SQLite's in this process, or PostgreSQL's shared by several (issue 17). */
  events: EventLog | PgEventLog
  hub: StreamHub
  store: InboxStore
  /** The one writer of messages and conversation summaries. */
  writer: InboxWriter
  /** The side effects of stored messages, registered in app.ts. */
  effects: SideEffects
  auth: AuthService
  /** What each person may see: their role and channels (issue 13). */
  access: AccessResolver
  /** Who works which channel (units: run them through `units`). */
  members: ChannelMembersRepo
  ingest: IngestQueue
  channels: ChannelDirectory
  /** Checks saved channel credentials with Meta in the background (issue 11). */
  channelChecks: ChannelChecks
  /** Replies, outbox, media, templates (issue 4). */
  sending: Sending
  /** Present in sandbox mode: the in-process Meta emulator. */
  sandbox?: SandboxMode
  /** Contacts, CSV import, broadcast campaigns and their analytics (issue 7). */
  campaigns: Campaigns
  /** The team: people, invitations, password reset links, mail (issue 13). */
  accounts: Accounts
  /** The workspace's settings: assignment cap, business hours, automatic replies (issue 13). */
  settings: WorkspaceSettingsRepo
  /** Assignment by hand and automatic (round robin), issue 13. */
  assignment: Assignment
  /** Who has an open stream, with a grace before offline (issue 13); assignment listens to it. */
  presence: Presence
  /** Who is viewing or typing in which conversation: in memory, live-only frames (issue 14). */
  conversationPresence: ConversationPresence
  /** The workspace's labels and the conversations' (issue 14). */
  labels: Labels
  /** Snooze and its wake-up (issue 14). */
  snoozes: Snoozes
  /** Shared and personal canned replies with their variables (issue 14). */
  canned: CannedReplies
  /** Internal notes and mentions (issue 14). */
  notes: Notes
  /** The team's figures (issue 15), from facts kept at write time. */
  reports: Reports
  /** Who did what to people, channels, secrets and data (issue 16): `audit.record(...)`. */
  audit: AuditLog
  /** Seals and opens secrets stored in the database (issue 16): tokens, app secrets, TOTP and webhook secrets. */
  secrets: SecretBox
  /** Personal API tokens (issue 16): a script acts as its person, read or read-write. */
  apiTokens: ApiTokens
  /** A contact's data (issue 16): export as JSON, and erasure. */
  contactData: ContactData
  /** Issue 16: what /metrics and the admins' health page read; `health.tracker` is fed by webhooks and sends. */
  health: Health
  /** Scheduled online backups (issue 16); absent when BACKUP_INTERVAL_HOURS is 0. */
  backups: BackupSchedule | undefined
  /** TOTP two-factor sign-in and the workspace's "required for everyone" (issue 16). */
  twoFactor: TwoFactor
  /** Outgoing webhooks (issue 16): endpoints, their delivery workers and attempts. */
  webhooks: Webhooks
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}
