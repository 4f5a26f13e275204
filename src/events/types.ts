// Event and DTO shapes shared by the server and the web client (imported as types),
// plus the one rule both sides must word alike: why a message failed.

import type { ChannelPublic } from '../domain/channels/channels.ts'

export type ChannelKind = 'whatsapp' | 'messenger'

export type ConversationStatusName = 'open' | 'pending' | 'snoozed' | 'resolved'

/** A label as a conversation carries it (issue 14). */
export interface LabelRef {
  id: number
  name: string
  /** #rrggbb */
  color: string
}

export interface ContactDTO {
  id: number
  externalId: string
  name: string | null
  phone: string | null
}

export interface ConversationDTO {
  id: number
  channelId: number
  channelKind: ChannelKind
  /**
   * Issue 14: `pending` waits on the customer; `snoozed` is out of Open until
   * `snoozedUntil` or the customer's next message, whichever comes first (both reopen).
   */
  status: ConversationStatusName
  /** When a snoozed conversation comes back (ms); null unless snoozed. */
  snoozedUntil: number | null
  /** Its labels (issue 14), by name. */
  labels: LabelRef[]
  /**
   * The customer's messages (not reactions) still unread. A REST response carries the
   * caller's own count: the customer's messages after their read position (POST
   * /read), or, before they ever read it, those since they joined its channel (an admin:
   * since their account exists). An event is shared by every stream of the channel,
   * so it carries the conversation's count (since anyone last read it); a client keeps
   * each person's own count from the events (+1 on a customer's message, 0 on their
   * own `conversation.updated` after a read, which only the reader gets). Assigning
   * never changes anyone's count (issue 13; chatwoot #14445).
   */
  unreadCount: number
  /** Who works it (issue 13), or null: the pool. */
  assignee: { id: number; name: string } | null
  /**
   * Since when the customer has waited for a reply (ms): set by their message when
   * nobody was waiting, cleared by a reply from a person — an agent's or the business's
   * from the phone app. A campaign's message is not a reply. Null when nobody waits.
   */
  waitingSince: number | null
  lastMessageId: number | null
  lastMessagePreview: string | null
  lastMessageDirection: 'in' | 'out' | null
  lastMessageAt: number | null
  /** The last message's status (an outbound one's: queued … sent, delivered, read, failed); null without messages. */
  lastMessageStatus: string | null
  /**
   * Why the last message failed, when it did (else null): the same words its bubble
   * shows, so a failed send is visible in the list without opening it (issue 5).
   */
  lastMessageError: string | null
  lastActivityAt: number
  windowExpiresAt: number | null
  contact: ContactDTO
}

/**
 * Why a message failed, in the words its bubble shows (Meta's detail, else its title).
 * The server fills ConversationDTO.lastMessageError with it and the browser applies it
 * to the list when a `message.updated` fails the last message, so both read the same.
 */
export function failureReason(status: string | null, error: { title: string | null; detail: string | null } | null): string | null {
  if (status !== 'failed') return null
  return error?.detail || error?.title || 'The message was not delivered.'
}

/**
 * `context.source` of a message the business sent from the WhatsApp Business app on its
 * phone (Meta's coexistence echo, issue 11): stored as outbound, never sent by Parley.
 */
export const PHONE_APP_SOURCE = 'whatsapp_business_app'

/** Whether the business sent this message from the WhatsApp Business app, not from Parley. */
export function sentFromPhoneApp(m: Pick<MessageDTO, 'direction' | 'context'>): boolean {
  return m.direction === 'out' && m.context?.source === PHONE_APP_SOURCE
}

export interface MessageDTO {
  id: number
  conversationId: number
  /**
   * `system`: never sent — a timeline line of the team's activity (type `activity`, data
   * SystemLineData) or an internal note (type `note`, text, senderUserId its author).
   */
  direction: 'in' | 'out' | 'system'
  type: string
  text: string | null
  media: Record<string, unknown> | null
  data: unknown
  context: Record<string, unknown> | null
  replyToMessageId: number | null
  reactions: Record<string, string> | null
  providerMessageId: string | null
  clientMessageId: string | null
  senderUserId: number | null
  status: string
  sentAt: number | null
  deliveredAt: number | null
  readAt: number | null
  failedAt: number | null
  error: { code: number | null; title: string | null; detail: string | null } | null
  timestamp: number
}

/**
 * A system line's `data` (direction `system`, type `activity`): who did what, kept as
 * data so the browser words it ("Ana resolved this") and later actions (assignment:
 * `action: 'assigned'` with a `target` user) reuse the same line.
 */
export interface SystemLineData {
  action: 'resolved' | 'reopened' | 'assigned' | 'unassigned' | 'pending' | 'snoozed' | 'unsnoozed'
  /** The agent who did it; null: Parley did (automatic assignment, a snooze that ended). */
  actor: { userId: number; name: string } | null
  /** `assigned`: who was given the conversation. */
  target?: { userId: number; name: string }
  /** `snoozed`: until when (ms), worded by each client in its own local time (issue 14). */
  until?: number
  /** `unsnoozed` with no actor: why the snooze ended — its time came, or the customer wrote. */
  reason?: 'due' | 'customer'
}

/** Who assigned a conversation: a person, or null for automatic assignment. */
export type AssignedBy = { userId: number; name: string } | null

export interface EventPayloads {
  'message.created': { message: MessageDTO; conversation: ConversationDTO }
  'message.updated': { message: MessageDTO }
  /**
   * `readBy`: only on the reader's own event after POST /read (audience: that user), whose
   * `unreadCount` is theirs (0). Every other one carries the conversation's count, which
   * a client does not take over its own (see ConversationDTO.unreadCount).
   */
  'conversation.updated': { conversation: ConversationDTO; readBy?: number }
  // Issue 13: to the new assignee alone (their client notifies them); the conversation as it now is.
  'conversation.assigned': { conversation: ConversationDTO; by: AssignedBy }
  // Issue 7: live campaign analytics, contact opt-outs and imports.
  'campaign.updated': { campaign: CampaignDTO }
  'contact.updated': { contact: ContactDetailDTO }
  'contacts.imported': { listId: number; created: number; updated: number }
  // Issue 11: a channel's credential check result (as GET /api/channels lists it, without pacing).
  'channel.updated': { channel: ChannelPublic }
  // Issue 17: internal, addressed to nobody (never streamed, replayed or sent out): a channel
  // was created or changed, so every process reloads its channel directory's snapshot.
  'channel.changed': { channelId: number }
  // Issue 13: a person's role, channels, state, name or availability changed.
  'user.updated': { user: TeamUserDTO }
  // Issue 14: a note was deleted by its author (audience: the channel); clients drop it.
  'message.deleted': { messageId: number; conversationId: number }
  // Issue 14: the person was mentioned in a note (audience: that user alone).
  'mention.created': { mention: MentionDTO }
  // Issue 14: the person read mentions (POST /api/mentions/read; audience: that user), so
  // their other tabs and devices clear them too; `unread`: what is left unread.
  'mentions.read': { mentionIds: number[]; readAt: number; unread: number }
  // Issue 14: the workspace's labels changed (created, renamed, recoloured, deleted): everyone.
  'labels.changed': { labels: LabelRef[] }
  // Issue 16: a contact's data was erased: its conversations (audience: each one's channel) and
  // the contact (everyone) are gone; clients drop them. Older events that carried its text were
  // turned into `erased` tombstones (same ids, no content).
  'conversation.deleted': { conversationId: number }
  'contact.deleted': { contactId: number }
}

/** An entry of a person's Mentions list (issue 14). */
export interface MentionDTO {
  id: number
  conversationId: number
  messageId: number
  /** Who wrote the note; null if their account is gone. */
  author: { id: number; name: string } | null
  /** The note's text (plain text; rendered as text). */
  text: string
  createdAt: number
  readAt: number | null
  /** The conversation's contact, for the list row. */
  contact: { id: number; name: string | null; phone: string | null }
}

/**
 * Ephemeral presence (issue 14): who has a conversation open and who is typing. Sent
 * live on the stream as a `presence` frame with no `id:` line; never in the event log,
 * never replayed. `expiresAt`: when the state lapses without a refresh (≤ 10 s).
 */
export interface PresenceFrame {
  conversationId: number
  user: { id: number; name: string }
  state: 'viewing' | 'typing' | 'idle'
  /** `typing`: a reply or a note. */
  mode?: 'reply' | 'note'
  expiresAt: number
}

/** A person of the workspace as the team list (GET /api/users) and `user.updated` show them (issue 13). */
export interface TeamUserDTO {
  id: number
  email: string
  name: string
  role: 'admin' | 'agent'
  /** The channels they work; admins see every channel whatever this says. */
  channelIds: number[]
  availability: 'online' | 'busy' | 'away'
  disabled: boolean
}

// ---- Contacts and campaigns (issue 7) ----------------------------------------------

/**
 * A message's `context.campaign`: on a campaign message, the campaign that sent it; on
 * an inbound message, the campaign it replies to ("replied to campaign …").
 */
export interface CampaignRef {
  id: number
  name: string
}

/** The campaign a message belongs to (its `context.campaign`), or null. */
export function campaignIdOf(m: Pick<MessageDTO, 'context'>): number | null {
  const id = (m.context?.campaign as Partial<CampaignRef> | undefined)?.id
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null
}

export interface ContactDetailDTO extends ContactDTO {
  kind: ChannelKind
  profileName: string | null
  attributes: Record<string, string>
  tags: string[]
  /** Set while campaigns skip this contact: when, how (keyword | meta_131050 | agent | whatsapp_stop) and the words that did it. */
  optOut: { at: number; source: string; text: string | null } | null
  /** Set when a reversed opt-out made the contact reachable again: when, and who (agent | whatsapp_resume). */
  optIn: { at: number; source: string } | null
  createdAt: number
  updatedAt: number
}

/** Where a template parameter's value comes from, per recipient. */
export type ParamSource =
  | { from: 'name' | 'first_name' | 'phone' }
  | { from: 'attribute'; key: string; fallback?: string }
  | { from: 'fixed'; value: string }

export interface CampaignParams {
  body: Record<string, ParamSource>
  header: Record<string, ParamSource>
}

export type FollowUpFilter = 'failed' | 'unread' | 'no_reply'

export type CampaignAudience =
  | { kind: 'all' }
  | { kind: 'tags'; tags: string[]; match: 'any' | 'all' }
  | { kind: 'list'; listId: number }
  | { kind: 'followup'; campaignId: number; filter: FollowUpFilter }

export type CampaignStatusName = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled'

/**
 * Every recipient is in exactly one of queued … skipped (they add up to `total`);
 * `replied` counts recipients with an attributed reply, whatever their status.
 */
export interface CampaignCounts {
  total: number
  queued: number
  sending: number
  unknown: number
  sent: number
  delivered: number
  read: number
  failed: number
  skipped: number
  replied: number
}

export interface CampaignDTO {
  id: number
  name: string
  status: CampaignStatusName
  channelId: number | null
  template: { name: string; language: string }
  params: CampaignParams
  audience: CampaignAudience
  scheduledAt: number | null
  startedAt: number | null
  completedAt: number | null
  cancelledAt: number | null
  pausedAt: number | null
  /** Why it is paused: `manual`, `token_invalid`, `account_blocked`, `template_rejected`, `error_flood`. */
  pause: { code: string; reason: string } | null
  /** Why a running campaign is waiting right now, in plain words (null: it is moving). */
  note: string | null
  followUpOf: number | null
  createdAt: number
  updatedAt: number
  counts: CampaignCounts
  /** Failed recipients by Meta error code, with the plain-language reason. */
  failures: { code: number | null; reason: string; count: number }[]
  skips: { reason: string; label: string; count: number }[]
  /** Messages handed to WhatsApp per second over the last few seconds. */
  rate: number
  /** Share of recipients no longer waiting (0–1). */
  progress: number
}

export type RecipientStatus = 'queued' | 'sending' | 'unknown' | 'sent' | 'delivered' | 'read' | 'failed' | 'skipped'

export interface CampaignRecipientDTO {
  id: number
  contact: { id: number; name: string | null; phone: string | null }
  status: RecipientStatus
  skip: { reason: string; label: string; detail: string | null } | null
  error: { code: number | null; reason: string } | null
  queuedAt: number | null
  sentAt: number | null
  deliveredAt: number | null
  readAt: number | null
  failedAt: number | null
  repliedAt: number | null
  conversationId: number | null
  messageId: number | null
}

export type EventType = keyof EventPayloads

/** Sent in-band when a cursor cannot be replayed: the client refetches its state. */
export interface ResetPayload {
  /** access_changed (issue 13): the person's role or channels changed; the stream goes on under the new access. */
  reason: 'unknown_cursor' | 'other_epoch' | 'ahead_of_log' | 'pruned' | 'access_changed'
  cursor: string
}
