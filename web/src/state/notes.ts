// Internal notes and mentions in the browser (issue 14): which conversations' composers
// are in Note mode, the teammates the @ picker offers, the person's Mentions list with
// its unread count, and the note to scroll to and highlight after a jump. Signals and
// the actions that fill them (the only callers of api/notes.ts); one instance per app,
// created on first use and fed by the app's stream (`mention.created`, `mentions.read`,
// `message.deleted`).
import { batch, signal } from '@preact/signals'
import { ApiError } from '../api/client.ts'
import { notesApi, type MentionDTO, type Teammate } from '../api/notes.ts'
import type { StreamEvent } from '../api/stream.ts'
import { chime, showNotification } from '../lib/notify.ts'
import { contactLabel } from '../lib/format.ts'
import { mentionedNames } from '../../../src/domain/notes/mention-parse.ts'
import type { App } from './app.ts'
import { focus, focusMessage } from './focus.ts'

export function createNotes(app: App) {
  /** Conversations whose composer is in Note mode. */
  const noteMode = signal<ReadonlySet<number>>(new Set())
  /** A note being written, per conversation (kept while switching conversations or modes). */
  const drafts = new Map<number, string>()
  const team = signal<Teammate[] | null>(null)
  let teamLoading: Promise<void> | null = null
  const mentions = signal<MentionDTO[]>([])
  const unread = signal(0)
  const nextCursor = signal<string | null>(null)
  const loaded = signal(false)
  const panelOpen = signal(false)

  const describe = (e: unknown) => (e instanceof ApiError ? (e.status === 0 ? 'No connection to Parley.' : e.message) : String(e))

  function setNoteMode(conversationId: number, on: boolean) {
    const next = new Set(noteMode.value)
    if (on) next.add(conversationId)
    else next.delete(conversationId)
    noteMode.value = next
  }

  /** The teammates once (GET /api/team); admins see every channel whatever their list says. */
  function loadTeam(): Promise<void> {
    if (team.value !== null) return Promise.resolve()
    teamLoading ??= notesApi
      .team()
      .then((r) => void (team.value = r.people))
      .catch(() => {})
      .finally(() => (teamLoading = null))
    return teamLoading
  }

  /** Who a note on this conversation can name: its channel's members and the admins, not oneself. */
  function mentionable(conversationId: number): Teammate[] {
    const c = app.state.conversation(conversationId)
    const me = app.user.value?.id
    if (!c || !team.value) return []
    return team.value.filter((p) => p.id !== me && (p.role === 'admin' || p.channelIds.includes(c.channelId)))
  }

  /**
   * Writes the note. `picked`: the people chosen in the @ picker; only those whose
   * `@Name` is still in the text go with it. Returns an error's words, or null.
   */
  async function send(conversationId: number, text: string, picked: readonly Teammate[]): Promise<string | null> {
    const named = mentionedNames(
      text,
      picked.map((p) => p.name),
    )
    const ids = [...new Set(picked.filter((p) => named.has(p.name.trim().toLowerCase())).map((p) => p.id))]
    try {
      const r = await notesApi.create(conversationId, text, ids)
      app.state.applySentMessage(r.note)
      return null
    } catch (e) {
      return describe(e)
    }
  }

  async function remove(conversationId: number, noteId: number) {
    try {
      await notesApi.remove(conversationId, noteId)
    } catch (e) {
      app.flash(`Could not delete the note: ${describe(e)}`)
    }
  }

  async function loadMentions(more = false) {
    try {
      const page = await notesApi.mentions(more ? nextCursor.value : null)
      batch(() => {
        const known = new Set(more ? mentions.value.map((m) => m.id) : [])
        mentions.value = more ? [...mentions.value, ...page.mentions.filter((m) => !known.has(m.id))] : page.mentions
        nextCursor.value = page.nextCursor
        unread.value = page.unread
        loaded.value = true
      })
    } catch {
      /* the badge waits for the next event or reset */
    }
  }

  function markedRead(ids: readonly number[] | null, readAt: number) {
    const set = ids && new Set(ids)
    mentions.value = mentions.value.map((m) => (m.readAt === null && (!set || set.has(m.id)) ? { ...m, readAt } : m))
  }

  async function readMentions(ids?: number[]) {
    markedRead(ids ?? null, Date.now())
    try {
      const r = await notesApi.read(ids)
      unread.value = r.unread
    } catch (e) {
      app.flash(`Could not mark mentions read: ${describe(e)}`)
    }
  }

  /** Opens the note's conversation, scrolls to the note and highlights it; the mention is read. */
  function jump(m: MentionDTO) {
    panelOpen.value = false
    focusMessage(m.conversationId, m.messageId)
    if (m.readAt === null) void readMentions([m.id])
    if (location.pathname !== `/c/${m.conversationId}`) {
      // Through the router, as a link would: the other pages (contacts, campaigns, settings) leave too.
      history.pushState(null, '', `/c/${m.conversationId}`)
      dispatchEvent(new PopStateEvent('popstate'))
    }
  }

  /** The app's stream, after the inbox state applied the event. */
  function onEvent(ev: StreamEvent, result: string) {
    if (result === 'reset') {
      void loadMentions()
      return
    }
    if (result === 'duplicate') return
    const data = ev.data as Record<string, unknown> | null
    if (ev.type === 'mention.created') {
      const m = (data as { mention?: MentionDTO } | null)?.mention
      if (!m || mentions.value.some((x) => x.id === m.id)) return
      batch(() => {
        mentions.value = [m, ...mentions.value]
        unread.value++
      })
      const what = `${m.author?.name ?? 'A teammate'} mentioned you: ${contactLabel({ ...m.contact, externalId: '' }) || 'a customer'}`
      // Every tab says so on the page; the leader alone rings and notifies.
      app.flash(what)
      if (!app.isLeader()) return
      chime()
      showNotification(what, m.text, `parley-mention-${m.id}`, () => jump(m))
    } else if (ev.type === 'mentions.read') {
      const r = data as { mentionIds?: number[]; readAt?: number; unread?: number } | null
      if (!Array.isArray(r?.mentionIds)) return
      batch(() => {
        markedRead(r.mentionIds!, r.readAt ?? Date.now())
        if (typeof r.unread === 'number') unread.value = r.unread
      })
    } else if (ev.type === 'message.deleted') {
      const id = (data as { messageId?: unknown } | null)?.messageId
      const gone = mentions.value.filter((m) => m.messageId === id)
      if (gone.length === 0) return
      batch(() => {
        mentions.value = mentions.value.filter((m) => m.messageId !== id)
        unread.value = Math.max(0, unread.value - gone.filter((m) => m.readAt === null).length)
      })
    }
  }

  app.onEvent(onEvent)
  void loadMentions()

  return {
    noteMode,
    setNoteMode,
    drafts,
    team,
    loadTeam,
    mentionable,
    send,
    remove,
    mentions,
    unread,
    nextCursor,
    loaded,
    panelOpen,
    loadMentions,
    readMentions,
    jump,
    /** The note to scroll to and highlight (a jump from the Mentions list or a notification): the page's one focus (focus.ts). */
    focus,
  }
}

export type Notes = ReturnType<typeof createNotes>

const instances = new WeakMap<App, Notes>()

/** The app's notes state, created on first use. */
export function notesOf(app: App): Notes {
  let n = instances.get(app)
  if (!n) instances.set(app, (n = createNotes(app)))
  return n
}
