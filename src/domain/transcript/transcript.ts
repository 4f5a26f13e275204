// Issue 15: one conversation as a readable file (plain text or a printable HTML page),
// with or without its internal notes. The history is read in pages of TRANSCRIPT_PAGE,
// oldest first, and handed to the response as it is worded — a conversation of a
// million messages never sits in memory at once, and other requests run between pages.
// Everything up to the newest message when the export began; later ones are not in it.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { InboxStore } from '../../store/inbox-store.ts'
import type { WorkspaceSettingsNow } from '../channels/workspace-settings.ts'
import { entryOf, quoteText, type TranscriptLookups } from './entries.ts'
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

export class Transcripts {
  constructor(
    private readonly deps: {
      store: InboxStore
      settings: Pick<WorkspaceSettingsNow, 'get'>
      now: () => number
    },
  ) {}

  /** The file, or undefined when the conversation is not this workspace's (the caller checked access). */
  export(r: TranscriptRequest): TranscriptFile | undefined {
    const { store } = this.deps
    const conv = store.conversation(r.workspaceId, r.conversationId)
    if (!conv) return undefined
    const timeZone = this.deps.settings.get(r.workspaceId)?.timezone ?? 'UTC'
    const now = this.deps.now()
    const c = conv.contact
    const contact = c.name?.trim() || (c.phone ? `+${c.phone}` : c.externalId)
    const channel = store.runNow(store.channels.get(r.workspaceId, conv.channelId))
    const service = conv.channelKind === 'messenger' ? 'Messenger' : 'WhatsApp'
    const header: TranscriptHeader = {
      conversationId: conv.id,
      contact,
      address: conv.channelKind === 'messenger' ? `PSID ${c.externalId}` : c.phone ? `+${c.phone}` : c.externalId,
      channel: channelLabel(service, channel?.name, channel?.displayPhoneNumber),
      exportedAt: now,
      exportedBy: store.userName(r.workspaceId, r.userId) ?? `user #${r.userId}`,
      timeZone,
      notes: r.notes,
    }
    const render = r.format === 'html' ? htmlRenderer(timeZone) : textRenderer(timeZone)
    const names = new Map<number, string | null>()
    const look: TranscriptLookups = {
      customer: contact,
      timeZone,
      userName: (id) => {
        if (!names.has(id)) names.set(id, store.userName(r.workspaceId, id) ?? null)
        return names.get(id)!
      },
      messageText: (id) => {
        const m = store.runNow(store.messages.messageById(r.workspaceId, id))
        return m && m.conversationId === conv.id ? quoteText(m) : null
      },
      providerMessageText: (pid) => {
        const m = store.runNow(store.messages.messageByProviderId(conv.channelId, pid))
        return m && m.conversationId === conv.id ? quoteText(m) : null
      },
    }
    const through = store.runNow(store.messages.newestIdOf(conv.id))
    const date = wallClock(timeZone, now).date
    return {
      filename: `conversation-${conv.id}-${date}.${render.extension}`,
      contentType: render.contentType,
      body: this.pages(r, render, header, look, through),
    }
  }

  private async *pages(
    r: TranscriptRequest,
    render: TranscriptRenderer,
    header: TranscriptHeader,
    look: TranscriptLookups,
    through: number,
  ): AsyncGenerator<string> {
    yield render.head(header)
    let after = 0
    let count = 0
    for (;;) {
      const page = this.deps.store.runNow(
        this.deps.store.messages.messageDTOsAfter(r.workspaceId, r.conversationId, after, through, TRANSCRIPT_PAGE),
      )
      let chunk = ''
      for (const m of page) {
        if (m.direction === 'system' && m.type === 'note' && !r.notes) continue
        chunk += render.entry(entryOf(m, look))
        count++
      }
      if (chunk) yield chunk
      if (page.length < TRANSCRIPT_PAGE) break
      after = page[page.length - 1]!.id
      await nextTurn()
    }
    yield render.foot(count)
  }
}
