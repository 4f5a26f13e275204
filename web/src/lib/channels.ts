// Channels in the inbox (issue 6): the badge on a conversation, the filter's choices,
// and what each channel allows an agent to send and when.
import type { ChannelKind } from '../../../src/events/types.ts'
import type { ChannelPublic } from '../api/http.ts'
import type { ChannelFilter } from '../state/inbox.ts'
import { windowState } from './format.ts'

export const KIND_LABEL: Record<ChannelKind, string> = { whatsapp: 'WhatsApp', messenger: 'Messenger' }

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** Both channels: a customer's message opens 24 hours of free replies (windowExpiresAt = last inbound + 24 h). */
const SERVICE_WINDOW_MS = DAY_MS
/** Messenger's HUMAN_AGENT tag: a person may still reply up to 7 days after the customer's message (meta-platform-facts §4). */
const HUMAN_AGENT_MS = 7 * DAY_MS

/**
 * The badge text: the kind, and the channel's name when the workspace has several of
 * that kind (a lone WhatsApp number next to a Messenger page is named by its kind).
 */
export function channelBadge(kind: ChannelKind, channelId: number, channels: readonly ChannelPublic[]): string {
  const sameKind = channels.filter((c) => c.kind === kind)
  const own = sameKind.find((c) => c.id === channelId)
  return sameKind.length > 1 && own ? channelTitle(own) : KIND_LABEL[kind]
}

/** "WhatsApp · Sales"; a name that already says its kind ("WhatsApp", "Messenger shop") stands alone. */
export function channelTitle(c: Pick<ChannelPublic, 'kind' | 'name'>): string {
  const kind = KIND_LABEL[c.kind]
  return c.name.toLowerCase().includes(kind.toLowerCase()) ? c.name : `${kind} · ${c.name}`
}

/** The filter's choices: everything, each kind when it has several channels, and each channel. */
export function channelFilterOptions(channels: readonly ChannelPublic[]): Array<[ChannelFilter, string]> {
  const out: Array<[ChannelFilter, string]> = [['', 'All channels']]
  for (const kind of ['whatsapp', 'messenger'] as const) {
    const of = channels.filter((c) => c.kind === kind)
    if (of.length > 1) out.push([`kind:${kind}`, `All ${KIND_LABEL[kind]}`])
    for (const c of of) out.push([`ch:${c.id}`, `${channelTitle(c)}${c.enabled ? '' : ' (disabled)'}`])
  }
  return out
}

export type WindowMode =
  /** Free text, the customer wrote within 24 hours. */
  | 'open'
  /** WhatsApp after 24 hours: approved templates only. */
  | 'template'
  /** Messenger between 24 hours and 7 days: a person's reply, sent with the HUMAN_AGENT tag. */
  | 'human_agent'
  /** Messenger after 7 days (or never written): nothing can be sent. */
  | 'closed'

export interface ChannelWindow {
  mode: WindowMode
  /** Short, for the list. */
  label: string
  /** When the current mode ends (null: it does not end by itself). */
  until: number | null
}

function left(ms: number): string {
  const mins = Math.floor(ms / 60_000)
  if (mins < 60) return `${mins} min left`
  const hours = Math.floor(ms / HOUR_MS)
  return hours < 48 ? `${hours} h left` : `${Math.floor(ms / DAY_MS)} d left`
}

/** What the channel lets an agent send now, from windowExpiresAt (= the customer's last message + 24 h). */
export function channelWindow(kind: ChannelKind, expiresAt: number | null, now: number): ChannelWindow {
  const w = windowState(expiresAt, now)
  if (w.open) return { mode: 'open', label: w.label, until: expiresAt }
  if (kind === 'whatsapp') return { mode: 'template', label: w.label, until: null }
  const tagUntil = expiresAt === null ? null : expiresAt - SERVICE_WINDOW_MS + HUMAN_AGENT_MS
  if (tagUntil !== null && tagUntil > now) return { mode: 'human_agent', label: `Human agent · ${left(tagUntil - now)}`, until: tagUntil }
  return { mode: 'closed', label: 'Closed', until: null }
}
