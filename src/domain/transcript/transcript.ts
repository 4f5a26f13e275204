// Issue 15: one conversation as a readable file (plain text or a printable HTML page),
// with or without its internal notes. The history is read in pages of TRANSCRIPT_PAGE,
// oldest first, and handed to the response as it is worded — a conversation of a
// million messages never sits in memory at once, and other requests run between pages.
// Everything up to the newest message when the export began; later ones are not in it.
// Issue 17: the header and each page are read units (either database); a page's read takes
// what its entries quote and who wrote them along, so rendering needs no database.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ConversationDTO, MessageDTO } from '../../events/types.ts'
import type { ChannelsRepo } from '../../store/channels.ts'
import type { InboxRepos, MessageRow } from '../../store/inbox-store.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import type { WorkspaceSettingsRepo } from '../../store/workspace-settings.ts'
import { entryOf, quoteText, reactionTarget, type TranscriptLookups } from './entries.ts'
import type { TranscriptHeader, TranscriptRenderer } from './header.ts'
import { htmlRenderer } from './html.ts'
import { textRenderer } from './text.ts'
import { wallClock } from './entries.ts'

// Big enough that a page's read costs little per row, small enough that a page's text
// (a few hundred KB at most) is a modest buffer.
const TRANSCRIPT_PAGE = 500

/** "WhatsApp · Support line (+1 555 000 3000)"; the default channel is named for its service, said once. */
function channelLabel(service: string, name: string | undefined, number: string | null | undefined): string {
  const named = name && name !== service ? `${service} · ${name}` : service
  return number ? `${named} (${number})` : named
}

export type TranscriptFormat = 'html' | 'text'

export interface TranscriptRequest {
  workspaceId: number
  /** Who exports it (named in the header). */
  userId: number
  conversationId: number
  format: TranscriptFormat
  notes: boolean
}

export interface TranscriptFile {
  filename: string
  contentType: string
  body: AsyncGenerator<string>
}

/** A page of the history with what its entries quote and who wrote them, read in one unit. */
interface Page {
  messages: MessageDTO[]
  /** One-line texts of the quoted messages of this conversation, by id and by provider id. */
  quotes: Map<number, string | null>
  reacted: Map<string, string | null>
}

export class Transcripts {
  constructor(
    private readonly deps: {
      /** Each read (the header, then every page) is a unit of its own, on either database. */
      units: Pick<UnitRunner, 'read'>
      repos: InboxRepos & { channels: ChannelsRepo }
      settings: Pick<WorkspaceSettingsRepo, 'get'>
      now: () => number
    },
  ) {}

  /** The file, or undefined when the conversation is not this workspace's (the caller checked access). */
  async export(r: TranscriptRequest): Promise<TranscriptFile | undefined> {
    const { repos, settings } = this.deps
    const head = await this.deps.units.read(function* () {
      const conv = yield* repos.conversations.conversationDTO(r.workspaceId, r.conversationId)
      if (!conv) return undefined
      return {
        conv,
        settings: yield* settings.get(r.workspaceId),
        channel: yield* repos.channels.get(r.workspaceId, conv.channelId),
        exporter: yield* repos.users.nameInWorkspace(r.workspaceId, r.userId),
        through: yield* repos.messages.newestIdOf(conv.id),
      }
    })
    if (!head) return undefined
    const { conv, channel, through } = head
    const timeZone = head.settings?.timezone ?? 'UTC'
    const now = this.deps.now()
    const c = conv.contact
    const contact = c.name?.trim() || (c.phone ? `+${c.phone}` : c.externalId)
    const service = conv.channelKind === 'messenger' ? 'Messenger' : 'WhatsApp'
    const header: TranscriptHeader = {
      conversationId: conv.id,
      contact,
      address: conv.channelKind === 'messenger' ? `PSID ${c.externalId}` : c.phone ? `+${c.phone}` : c.externalId,
      channel: channelLabel(service, channel?.name, channel?.displayPhoneNumber),
      exportedAt: now,
      exportedBy: head.exporter ?? `user #${r.userId}`,
      timeZone,
      notes: r.notes,
    }
    const render = r.format === 'html' ? htmlRenderer(timeZone) : textRenderer(timeZone)
    const date = wallClock(timeZone, now).date
    return {
      filename: `conversation-${conv.id}-${date}.${render.extension}`,
      contentType: render.contentType,
      body: this.pages(r, conv, render, header, { customer: contact, timeZone }, through),
    }
  }

  private async *pages(
    r: TranscriptRequest,
    conv: Pick<ConversationDTO, 'id' | 'channelId'>,
    render: TranscriptRenderer,
    header: TranscriptHeader,
    base: Pick<TranscriptLookups, 'customer' | 'timeZone'>,
    through: number,
  ): AsyncGenerator<string> {
    const { repos } = this.deps
    // Names are few and repeat on every page: read once each, kept for the whole export.
    const names = new Map<number, string | null>()
    yield render.head(header)
    let after = 0
    let count = 0
    for (;;) {
      const from = after
      const page = await this.deps.units.read(() => readPage(repos, r, conv, from, through, names))
      const look: TranscriptLookups = {
        ...base,
        userName: (id) => names.get(id) ?? null,
        messageText: (id) => page.quotes.get(id) ?? null,
        providerMessageText: (pid) => page.reacted.get(pid) ?? null,
      }
      let chunk = ''
      for (const m of page.messages) {
        if (m.direction === 'system' && m.type === 'note' && !r.notes) continue
        chunk += render.entry(entryOf(m, look))
        count++
      }
      if (chunk) yield chunk
      if (page.messages.length < TRANSCRIPT_PAGE) break
      after = page.messages[page.messages.length - 1]!.id
      await nextTurn()
    }
    yield render.foot(count)
  }
}

/**
 * One page and everything its entries look up while rendering (the renderers are pure and
 * synchronous): the quoted messages (a reply's target by id, a reaction's by the provider's
 * id — only this conversation's count) and the names of the people who wrote, not yet in `names`.
 */
function* readPage(
  repos: InboxRepos,
  r: TranscriptRequest,
  conv: Pick<ConversationDTO, 'id' | 'channelId'>,
  after: number,
  through: number,
  names: Map<number, string | null>,
): Q<Page> {
  const messages = yield* repos.messages.messageDTOsAfter(r.workspaceId, r.conversationId, after, through, TRANSCRIPT_PAGE)
  const quotes = new Map<number, string | null>()
  const reacted = new Map<string, string | null>()
  const ours = (m: MessageRow | undefined) => (m && m.conversationId === conv.id ? quoteText(m) : null)
  for (const m of messages) {
    if (m.direction === 'system' && m.type === 'note' && !r.notes) continue
    if (m.senderUserId !== null && !names.has(m.senderUserId)) {
      names.set(m.senderUserId, (yield* repos.users.nameInWorkspace(r.workspaceId, m.senderUserId)) ?? null)
    }
    if (m.type === 'reaction') {
      const target = reactionTarget(m)
      if (target !== null && !reacted.has(target))
        reacted.set(target, ours(yield* repos.messages.messageByProviderId(conv.channelId, target)))
    } else if (m.replyToMessageId !== null && !quotes.has(m.replyToMessageId)) {
      quotes.set(m.replyToMessageId, ours(yield* repos.messages.messageById(r.workspaceId, m.replyToMessageId)))
    }
  }
  return { messages, quotes, reacted }
}
