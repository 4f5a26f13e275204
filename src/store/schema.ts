// The database schema. drizzle-kit generates migrations/ from this file; migrations
// are committed, append-only and applied at start. Times are Unix milliseconds.
import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`

export const workspaces = sqliteTable('workspaces', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull().default(now),
  // The team (issue 13): automatic assignment gives nobody more open conversations than this.
  assignmentCap: integer('assignment_cap').notNull().default(10),
  // Business hours: an IANA timezone, the weekly hours and holidays (JSON, see domain/team/business-hours.ts),
  // and the automatic replies sent outside them / to a brand-new conversation (null: off).
  timezone: text('timezone').notNull().default('UTC'),
  businessHours: text('business_hours', { mode: 'json' }).$type<unknown>(),
  awayMessage: text('away_message'),
  greetingMessage: text('greeting_message'),
})

export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ['admin', 'agent'] }).notNull(),
    disabledAt: integer('disabled_at'),
    // What the person set in the top bar: online | busy (no automatic assignment) | away.
    availability: text('availability', { enum: ['online', 'busy', 'away'] })
      .notNull()
      .default('online'),
    // Presence across restarts (issue 13): 1 while the person holds an open stream, and
    // when Parley last saw them open or close one. A restart (even kill -9) is a blip for
    // the people who were online: they stay online for the grace instead of all going offline.
    streaming: integer('streaming', { mode: 'boolean' }).notNull().default(false),
    seenAt: integer('seen_at'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('users_email_uq').on(t.email)],
)

// A session is the server-side half of a JWT: logout revokes it, so a copied token
// stops working and its open streams close.
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    createdAt: integer('created_at').notNull().default(now),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
)

// Invitations (issue 13): a single-use link, valid 7 days, to join with a role and
// channels. Only the SHA-256 of the token is kept (like password_resets). channel_ids is
// a JSON array of channel ids, applied when the invitation is accepted.
export const invitations = sqliteTable(
  'invitations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    email: text('email').notNull(),
    role: text('role', { enum: ['admin', 'agent'] }).notNull(),
    channelIds: text('channel_ids').notNull(),
    tokenHash: text('token_hash').notNull(),
    invitedBy: integer('invited_by')
      .notNull()
      .references(() => users.id),
    expiresAt: integer('expires_at').notNull(),
    acceptedAt: integer('accepted_at'),
    revokedAt: integer('revoked_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('invitations_token_uq').on(t.tokenHash), index('invitations_ws_idx').on(t.workspaceId)],
)

// A WhatsApp number or a Messenger page, with its credentials.
export const channels = sqliteTable(
  'channels',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    kind: text('kind', { enum: ['whatsapp', 'messenger'] }).notNull(),
    // phone_number_id for WhatsApp, page id for Messenger: what webhooks route on.
    externalId: text('external_id').notNull(),
    name: text('name').notNull(),
    displayPhoneNumber: text('display_phone_number'),
    businessAccountId: text('business_account_id'),
    accessToken: text('access_token'),
    appSecret: text('app_secret'),
    verifyToken: text('verify_token'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdAt: integer('created_at').notNull().default(now),
    // What Meta said of the saved credentials (issue 11): verified | rejected; null while
    // not checked yet (never, or Meta unreachable). Detail: the name Meta answered, or why.
    credentialsStatus: text('credentials_status', { enum: ['verified', 'rejected'] }),
    credentialsCheckedAt: integer('credentials_checked_at'),
    credentialsDetail: text('credentials_detail'),
    // Issue 13: new and reopened conversations go round robin to the available members.
    autoAssign: integer('auto_assign', { mode: 'boolean' }).notNull().default(false),
    // The member who got the last automatic assignment (round robin starts after them).
    lastAssignedUserId: integer('last_assigned_user_id'),
    // Issue 14: only the conversation's assignee may reply (others get 403 ASSIGNEE_ONLY).
    assigneeOnly: integer('assignee_only', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [uniqueIndex('channels_kind_external_uq').on(t.kind, t.externalId)],
)

// Who works a channel's conversations (agents; admins see every channel).
export const channelMembers = sqliteTable(
  'channel_members',
  {
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.userId] }), index('channel_members_user_idx').on(t.userId)],
)

export const contacts = sqliteTable(
  'contacts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    kind: text('kind', { enum: ['whatsapp', 'messenger'] }).notNull(),
    // wa_id (or BSUID when Meta omits the number) / Messenger PSID.
    externalId: text('external_id').notNull(),
    phone: text('phone'),
    name: text('name'),
    profileName: text('profile_name'),
    attributes: text('attributes', { mode: 'json' }).$type<Record<string, string>>(),
    // Campaign opt-out (issue 7): when, how (keyword | meta_131050 | agent) and the
    // customer's own words; campaigns skip the contact while it is set.
    optedOutAt: integer('opted_out_at'),
    optOutSource: text('opt_out_source'),
    optOutText: text('opt_out_text'),
    // An agent's reversal: a 131050 older than this does not opt the contact out again.
    optOutReversedAt: integer('opt_out_reversed_at'),
    // Who reversed it: an agent, or the customer resuming marketing in WhatsApp (issue 11).
    optOutReversedSource: text('opt_out_reversed_source'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [uniqueIndex('contacts_ws_kind_external_uq').on(t.workspaceId, t.kind, t.externalId)],
)

// Tags on contacts (issue 7): campaign audiences and the contacts page filter by them.
export const contactTags = sqliteTable(
  'contact_tags',
  {
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
    tag: text('tag').notNull(),
  },
  (t) => [uniqueIndex('contact_tags_uq').on(t.contactId, t.tag), index('contact_tags_ws_tag_idx').on(t.workspaceId, t.tag, t.contactId)],
)

// A named set of contacts; every CSV import makes one (an "imported list" audience).
export const contactLists = sqliteTable(
  'contact_lists',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    name: text('name').notNull(),
    // The import's validation report, kept so the list can show why rows were skipped.
    report: text('report', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdBy: integer('created_by'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [index('contact_lists_ws_idx').on(t.workspaceId, t.id)],
)

export const contactListMembers = sqliteTable(
  'contact_list_members',
  {
    listId: integer('list_id')
      .notNull()
      .references(() => contactLists.id),
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
  },
  (t) => [uniqueIndex('contact_list_members_uq').on(t.listId, t.contactId), index('contact_list_members_contact_idx').on(t.contactId)],
)

export const conversations = sqliteTable(
  'conversations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id),
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
    // Issue 14: `pending` waits on the customer; `snoozed` is out of Open until
    // snoozed_until or the customer's next message, whichever comes first.
    status: text('status', { enum: ['open', 'pending', 'snoozed', 'resolved'] })
      .notNull()
      .default('open'),
    snoozedUntil: integer('snoozed_until'),
    // The agent working it (issue 13), or nobody (the pool).
    assigneeId: integer('assignee_id').references(() => users.id),
    // Since when the customer waits for a reply: set by their message, cleared by anyone's reply.
    waitingSince: integer('waiting_since'),
    // The away auto-reply was last sent then (once per conversation per 12 h).
    awayRepliedAt: integer('away_replied_at'),
    unreadCount: integer('unread_count').notNull().default(0),
    lastMessageId: integer('last_message_id'),
    lastMessagePreview: text('last_message_preview'),
    lastMessageDirection: text('last_message_direction', { enum: ['in', 'out'] }),
    lastMessageAt: integer('last_message_at'),
    // Ordering key of the inbox: most recent activity first.
    lastActivityAt: integer('last_activity_at').notNull(),
    lastInboundAt: integer('last_inbound_at'),
    // Meta's customer-service window: 24 h after the customer's last message.
    windowExpiresAt: integer('window_expires_at'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('conversations_channel_contact_uq').on(t.channelId, t.contactId),
    // A contact's conversations (search by name or number finds contacts first): without it,
    // each such search walked every conversation of the workspace (bench "history").
    index('conversations_contact_idx').on(t.contactId),
    index('conversations_ws_activity_idx').on(t.workspaceId, t.lastActivityAt, t.id),
    index('conversations_ws_status_activity_idx').on(t.workspaceId, t.status, t.lastActivityAt, t.id),
    // The snooze wake-up (issue 14) finds the next one due without a scan.
    index('conversations_snoozed_idx').on(t.snoozedUntil).where(sql`snoozed_until IS NOT NULL`),
  ],
)

export type MessageStatus = 'received' | 'pending' | 'queued' | 'sending' | 'unknown' | 'sent' | 'delivered' | 'read' | 'played' | 'failed'

export const messages = sqliteTable(
  'messages',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id),
    // `system`: a line of the team's own activity in the timeline (resolved, reopened),
    // never sent to the customer and never the conversation's preview (issue 11). An
    // internal note (issue 14) is a `system` row of type `note`: the outbox refuses
    // anything that is not `out`, so a note can never be sent.
    direction: text('direction', { enum: ['in', 'out', 'system'] }).notNull(),
    type: text('type').notNull(),
    // Body, caption, or the visible title of a reply; what search and previews read.
    text: text('text'),
    media: text('media', { mode: 'json' }).$type<Record<string, unknown>>(),
    // The type's own object as Meta sent it (location, contacts, interactive, …).
    data: text('data', { mode: 'json' }).$type<unknown>(),
    // Reply/forward/referral context.
    context: text('context', { mode: 'json' }).$type<Record<string, unknown>>(),
    replyToMessageId: integer('reply_to_message_id'),
    // Reactions on this message: reactor → emoji.
    reactions: text('reactions', { mode: 'json' }).$type<Record<string, string>>(),
    providerMessageId: text('provider_message_id'),
    clientMessageId: text('client_message_id'),
    senderUserId: integer('sender_user_id'),
    status: text('status').$type<MessageStatus>().notNull(),
    sentAt: integer('sent_at'),
    deliveredAt: integer('delivered_at'),
    readAt: integer('read_at'),
    failedAt: integer('failed_at'),
    errorCode: integer('error_code'),
    errorTitle: text('error_title'),
    errorDetail: text('error_detail'),
    // Provider time of the message (inbound) or creation time (outbound).
    timestamp: integer('timestamp').notNull(),
    raw: text('raw', { mode: 'json' }).$type<unknown>(),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [
    // Idempotency: Meta redelivers; the wamid/mid is the dedupe key.
    uniqueIndex('messages_channel_provider_uq').on(t.channelId, t.providerMessageId),
    uniqueIndex('messages_ws_client_uq').on(t.workspaceId, t.clientMessageId),
    index('messages_conversation_idx').on(t.conversationId, t.id),
    // Per-person unread (issue 13) counts the customer's messages after a read position:
    // partial and covering, so the list's count per row is a range scan of this index alone.
    index('messages_customer_idx').on(t.conversationId, t.id).where(sql`direction = 'in' AND type <> 'reaction'`),
  ],
)

// Statuses for a message id Parley does not know yet (sent elsewhere, or the status
// outran the send call's answer). Kept, and applied when the id appears.
export const pendingStatuses = sqliteTable(
  'pending_statuses',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id),
    providerMessageId: text('provider_message_id').notNull(),
    status: text('status').notNull(),
    timestamp: integer('timestamp').notNull(),
    raw: text('raw', { mode: 'json' }).$type<unknown>(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('pending_statuses_uq').on(t.channelId, t.providerMessageId, t.status)],
)

// The send state machine, one row per outbound message. The send API has no
// idempotency key, so the state is committed before every HTTP call:
// queued → sending (attempt + lease) → sent (wamid) | failed (code, reason) | unknown.
// A row found `sending` after a crash becomes `unknown` and is never resent by itself;
// its id travels in biz_opaque_callback_data so a later status webhook settles it.
export type OutboxState = 'queued' | 'sending' | 'sent' | 'failed' | 'unknown'

export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id),
    // Sends are serialized per conversation so a customer reads replies in order.
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id),
    messageId: integer('message_id')
      .notNull()
      .references(() => messages.id),
    // text | template | image | document | reaction
    kind: text('kind').notNull(),
    // The Graph request body, minus biz_opaque_callback_data (added per attempt).
    payload: text('payload', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    state: text('state').$type<OutboxState>().notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseUntil: integer('lease_until'),
    providerMessageId: text('provider_message_id'),
    lastErrorCode: integer('last_error_code'),
    lastErrorText: text('last_error_text'),
    // Claim order: 0 = an agent's reply, 1 = a campaign message. Replies go first so a
    // 10,000-recipient campaign never makes a customer wait for an answer (issue 7).
    priority: integer('priority').notNull().default(0),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('outbox_message_uq').on(t.messageId),
    index('outbox_state_due_idx').on(t.state, t.nextAttemptAt),
    index('outbox_conversation_idx').on(t.conversationId, t.id),
  ],
)

// Broadcast campaigns (issue 7): an approved template, its parameters mapped to contact
// fields, an audience, and a schedule. Status: draft → scheduled → running ⇄ paused →
// completed | cancelled. The pause reason is shown to the user (190, error flood, …).
export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled'

export const campaigns = sqliteTable(
  'campaigns',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    channelId: integer('channel_id').references(() => channels.id),
    name: text('name').notNull(),
    status: text('status').$type<CampaignStatus>().notNull(),
    templateName: text('template_name').notNull(),
    templateLanguage: text('template_language').notNull(),
    params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    audience: text('audience', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    scheduledAt: integer('scheduled_at'),
    startedAt: integer('started_at'),
    // The last resume: the error-flood window counts only what was sent after it.
    resumedAt: integer('resumed_at'),
    pausedAt: integer('paused_at'),
    pauseCode: text('pause_code'),
    pauseReason: text('pause_reason'),
    completedAt: integer('completed_at'),
    cancelledAt: integer('cancelled_at'),
    // Why a running campaign is waiting right now (never a silent stall).
    note: text('note'),
    followUpOf: integer('follow_up_of'),
    createdBy: integer('created_by'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [index('campaigns_ws_idx').on(t.workspaceId, t.id), index('campaigns_status_idx').on(t.status)],
)

// One row per recipient, UNIQUE(campaign, contact): nobody is in a campaign twice.
// pending → queued (a message and its outbox row exist, committed in the same
// transaction that claimed the row) | skipped (opted out, missing value, cancelled).
// After `queued` the message's own status is the truth (sent, delivered, read, failed).
export type RecipientState = 'pending' | 'queued' | 'skipped'

export const campaignRecipients = sqliteTable(
  'campaign_recipients',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    campaignId: integer('campaign_id')
      .notNull()
      .references(() => campaigns.id),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
    state: text('state').$type<RecipientState>().notNull(),
    skipReason: text('skip_reason'),
    skipDetail: text('skip_detail'),
    messageId: integer('message_id').references(() => messages.id),
    queuedAt: integer('queued_at'),
    repliedAt: integer('replied_at'),
    replyMessageId: integer('reply_message_id'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('campaign_recipients_uq').on(t.campaignId, t.contactId),
    uniqueIndex('campaign_recipients_message_uq').on(t.messageId),
    index('campaign_recipients_state_idx').on(t.campaignId, t.state, t.id),
    index('campaign_recipients_contact_idx').on(t.contactId, t.id),
  ],
)

// Media files kept in DATA_DIR: inbound ones fetched through the Graph media flow
// (id → URL valid 5 minutes → bytes), outbound ones uploaded by agents. Served only
// through the authenticated media route.
export type MediaState = 'pending' | 'stored' | 'failed'

export const media = sqliteTable(
  'media',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    channelId: integer('channel_id').references(() => channels.id),
    // Null for an upload not yet attached to a message.
    messageId: integer('message_id').references(() => messages.id),
    direction: text('direction', { enum: ['in', 'out'] }).notNull(),
    // Meta's media id: from the webhook (inbound, valid 7 days) or from our upload (30 days).
    providerMediaId: text('provider_media_id'),
    providerUploadedAt: integer('provider_uploaded_at'),
    state: text('state').$type<MediaState>().notNull(),
    mimeType: text('mime_type'),
    filename: text('filename'),
    // As Meta sent it (base64 in current payloads, hex in older ones).
    sha256: text('sha256'),
    size: integer('size'),
    // Relative to DATA_DIR; never derived from anything a customer sent.
    path: text('path'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    lastError: text('last_error'),
    uploadedBy: integer('uploaded_by'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [index('media_state_due_idx').on(t.state, t.nextAttemptAt), index('media_message_idx').on(t.messageId)],
)

// Signed payloads (or parts of them) Parley could not turn into state: unknown
// fields, unknown channels, malformed bodies. Never dropped silently.
export const rawWebhooks = sqliteTable(
  'raw_webhooks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    provider: text('provider').notNull(),
    reason: text('reason').notNull(),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [index('raw_webhooks_created_idx').on(t.createdAt)],
)

// The event log: one monotonic id space, the SSE `id:`. AUTOINCREMENT so ids are
// never reused, even after pruning.
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id').notNull(),
    type: text('type').notNull(),
    payload: text('payload').notNull(),
    createdAt: integer('created_at').notNull(),
    // The audience (issue 13): the whole workspace (both null), one channel's members, or one user.
    channelId: integer('channel_id'),
    userId: integer('user_id'),
  },
  (t) => [index('events_ws_id_idx').on(t.workspaceId, t.id), index('events_created_idx').on(t.createdAt)],
)

// Small key/value facts about this database: the stream epoch, the pruning mark.
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

// Single-use password reset links (`npm run admin -- reset-password`; later "forgot
// password" by email). Only a SHA-256 of the token is kept: a copy of the database
// cannot be used to take over an account. used_at also marks a token superseded.
export const passwordResets = sqliteTable(
  'password_resets',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    tokenHash: text('token_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('password_resets_token_uq').on(t.tokenHash), index('password_resets_user_idx').on(t.userId)],
)

// Each person's read position per conversation (issue 13): unread is per person, counted
// from the customer's messages after it, so assigning or labelling never marks anything unread.
export const conversationReads = sqliteTable(
  'conversation_reads',
  {
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    // The newest message the person had when they read it; unread counts the customer's after it.
    readThroughId: integer('read_through_id').notNull(),
    readAt: integer('read_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('conversation_reads_user_idx').on(t.userId)],
)

// Labels (issue 14): admins define them; anyone who can see a conversation sets them.
export const labels = sqliteTable(
  'labels',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    name: text('name').notNull(),
    // #rrggbb
    color: text('color').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('labels_ws_name_uq').on(t.workspaceId, t.name)],
)

export const conversationLabels = sqliteTable(
  'conversation_labels',
  {
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id),
    labelId: integer('label_id')
      .notNull()
      .references(() => labels.id),
    createdAt: integer('created_at').notNull().default(now),
  },
  // The list's label filter walks label → conversations.
  (t) => [primaryKey({ columns: [t.conversationId, t.labelId] }), index('conversation_labels_label_idx').on(t.labelId, t.conversationId)],
)

// Canned replies (issue 14): shared (owner null, admin-managed) or one person's own.
export const cannedReplies = sqliteTable(
  'canned_replies',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    // Null: shared with the whole workspace.
    ownerId: integer('owner_id').references(() => users.id),
    shortcut: text('shortcut').notNull(),
    text: text('text').notNull(),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [index('canned_replies_ws_idx').on(t.workspaceId, t.ownerId, t.shortcut)],
)

// A person named in a note (issue 14): their Mentions list, with its unread state.
export const mentions = sqliteTable(
  'mentions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id),
    // The note (a messages row of type `note`); deleting the note deletes its mentions.
    messageId: integer('message_id')
      .notNull()
      .references(() => messages.id),
    authorId: integer('author_id').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    readAt: integer('read_at'),
  },
  (t) => [
    index('mentions_user_idx').on(t.userId, t.id),
    index('mentions_message_idx').on(t.messageId),
    uniqueIndex('mentions_message_user_uq').on(t.messageId, t.userId),
  ],
)

// Reports (issue 15): facts kept at write time by triggers (migration report_triggers), so a
// report reads a range of these and never scans the messages. No foreign keys: one insert per
// fact on the webhook's path, nothing else checked.
// An episode: a conversation from its opening (the customer's first message, or a reopening)
// to its resolution, with its first customer message and the first person's reply in it.
export const reportEpisodes = sqliteTable(
  'report_episodes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id').notNull(),
    conversationId: integer('conversation_id').notNull(),
    channelId: integer('channel_id').notNull(),
    openedAt: integer('opened_at').notNull(),
    // 1: the conversation had been resolved before (a reopening).
    reopened: integer('reopened').notNull().default(0),
    // The assignee when it opened.
    openedAssigneeId: integer('opened_assignee_id'),
    firstInAt: integer('first_in_at'),
    firstReplyAt: integer('first_reply_at'),
    // The person who replied first (null: the business from the phone app or the Page inbox).
    firstReplyBy: integer('first_reply_by'),
    resolvedAt: integer('resolved_at'),
    resolvedBy: integer('resolved_by'),
    // The assignee when it was resolved.
    resolvedAssigneeId: integer('resolved_assignee_id'),
  },
  (t) => [
    index('report_episodes_conv_idx').on(t.conversationId, t.id),
    // Covering: a report reads each range from its index alone, never a row (a whole
    // history's range is 100,000s of entries; bench "reports").
    index('report_episodes_opened_idx').on(t.workspaceId, t.openedAt, t.reopened, t.openedAssigneeId, t.channelId),
    index('report_episodes_resolved_idx').on(t.workspaceId, t.resolvedAt, t.openedAt, t.resolvedBy, t.resolvedAssigneeId, t.channelId),
    index('report_episodes_reply_idx').on(t.workspaceId, t.firstReplyAt, t.firstInAt, t.firstReplyBy, t.channelId),
  ],
)

// Messages in (the customer's, without reactions) and out (a person's reply: an agent's, or the
// business's own from the phone app; never a campaign's or an automatic one) per UTC hour, channel
// and person (in: the assignee then; out: the sender; 0: nobody).
export const reportMessageCounts = sqliteTable(
  'report_message_counts',
  {
    workspaceId: integer('workspace_id').notNull(),
    hour: integer('hour').notNull(),
    channelId: integer('channel_id').notNull(),
    userId: integer('user_id').notNull(),
    messagesIn: integer('messages_in').notNull().default(0),
    messagesOut: integer('messages_out').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.hour, t.channelId, t.userId] })],
)

// The audit log (issue 16): who did what to the workspace's people, channels, secrets and data,
// for admins to read and export. Append-only; `detail` never holds a secret.
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id').notNull(),
    at: integer('at').notNull(),
    // The person who acted (null: Parley itself, or someone not signed in, e.g. a failed sign-in).
    actorUserId: integer('actor_user_id'),
    // What the log shows for the actor when no user matches (the e-mail a failed sign-in tried, "system").
    actorLabel: text('actor_label'),
    // A dotted name: 'auth.login', 'auth.login_failed', 'auth.locked_out', '2fa.enabled', 'user.invited', …
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>(),
    ip: text('ip'),
  },
  (t) => [index('audit_log_ws_idx').on(t.workspaceId, t.id)],
)

// Personal API tokens (issue 16): a person's scripts act as them, with `read` or `write` scope.
// Only the SHA-256 of the value is kept (the value is random and high-entropy, so a plain hash
// is enough): a copy of the database cannot be used to call the API. Revoking deletes the row.
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    scope: text('scope', { enum: ['read', 'write'] }).notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    // Updated at most once a minute per token (a script's every call does not write).
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_uq').on(t.tokenHash), index('api_tokens_user_idx').on(t.userId, t.id)],
)
// ---- TOTP two-factor sign-in (issue 16) ----
// One row per person who started or finished setting up 2FA. The TOTP secret is sealed
// (services.secrets); `pending_secret` is the one shown by setup until a code confirms it.
// `last_step` is the last TOTP time step accepted (a code is never accepted twice).
// `recovery_codes` is a JSON array of the SHA-256 of the unused one-time codes.
export const twoFactor = sqliteTable('two_factor', {
  userId: integer('user_id')
    .primaryKey()
    .references(() => users.id),
  workspaceId: integer('workspace_id').notNull(),
  secret: text('secret'),
  pendingSecret: text('pending_secret'),
  enabledAt: integer('enabled_at'),
  lastStep: integer('last_step'),
  recoveryCodes: text('recovery_codes', { mode: 'json' }).$type<string[]>(),
})

// Whether a workspace requires 2FA of everyone (issue 16): one row per workspace that set it.
export const twoFactorPolicy = sqliteTable('two_factor_policy', {
  workspaceId: integer('workspace_id').primaryKey(),
  required: integer('required', { mode: 'boolean' }).notNull().default(false),
  updatedAt: integer('updated_at').notNull(),
})

// Outgoing webhooks (issue 16): endpoints an admin registers, each with a cursor on the event
// log (`cursor`: every event at or below it was delivered or given up on), so a receiver that
// was down gets what it missed in order, as a browser's stream does. The secret is sealed
// (store/secret-box.ts). `attempts`/`next_attempt_at`: the retries of the event after the
// cursor, kept so a restart carries on the backoff instead of starting it over.
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    url: text('url').notNull(),
    // JSON array of event types (src/domain/webhooks/event-types.ts).
    events: text('events').notNull(),
    secret: text('secret').notNull(),
    cursor: integer('cursor').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    createdAt: integer('created_at').notNull(),
    createdBy: integer('created_by'),
  },
  (t) => [index('webhook_endpoints_ws_idx').on(t.workspaceId, t.id)],
)

// Each delivery attempt, newest kept (a fixed number per endpoint; older ones are pruned as
// new ones are written). `result`: delivered | retrying | skipped (failed for a day, given up).
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    endpointId: integer('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: integer('event_id').notNull(),
    eventType: text('event_type').notNull(),
    attempt: integer('attempt').notNull(),
    result: text('result').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    at: integer('at').notNull(),
    nextRetryAt: integer('next_retry_at'),
  },
  (t) => [index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.id)],
)

// Work ownership (issue 17): a named piece of work (a phone number, a Messenger page, a
// campaign, …) is owned by one process at a time until expires_at (Unix ms, database clock);
// the owner renews it, and `fence` grows at each change of owner so a former owner's late
// writes can be told apart.
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  fence: integer('fence').notNull().default(0),
  expiresAt: integer('expires_at').notNull(),
})

// Login throttling (issue 11; issue 17: in the database, so the limits hold across every
// process): one fixed window per key — `<throttle>:<a|i>:<account or address>` — with the
// attempts counted in it. Rows whose window ended are swept by the throttle itself.
export const loginAttempts = sqliteTable(
  'login_attempts',
  {
    key: text('key').primaryKey(),
    attempts: integer('attempts').notNull(),
    // Unix ms: when the window ends (its start plus the throttle's window).
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('login_attempts_expires_idx').on(t.expiresAt)],
)

// Who is online across processes (issue 17): one row per process and person, kept by that
// process — streaming while it holds a stream of theirs, refreshed by its heartbeat (seen_at,
// Unix ms), and left with the time of their last stream's close when it closes. A person is
// online while any row of theirs was seen less than PRESENCE_OFFLINE_AFTER_SECONDS ago, so a
// process that dies stops refreshing and its people go offline after the grace, as after any
// blip. No foreign keys: the rows are short-lived heartbeats, swept by the processes.
export const presenceNodes = sqliteTable(
  'presence_nodes',
  {
    nodeId: text('node_id').notNull(),
    userId: integer('user_id').notNull(),
    workspaceId: integer('workspace_id').notNull(),
    streaming: integer('streaming', { mode: 'boolean' }).notNull(),
    seenAt: integer('seen_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.userId] }), index('presence_nodes_seen_idx').on(t.seenAt)],
)
