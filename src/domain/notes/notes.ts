// Internal notes and mentions (issue 14). A note is the team talking to itself on a
// conversation: a timeline entry (the writer's recordNote) that is never sent — the
// outbox refuses any message that is not `out`, so not even a bug here could queue one.
// Naming a teammate with `@Full Name` mentions them: a row in their Mentions list and a
// `mention.created` event to them alone, in the note's own transaction. Only people
// who can see the conversation's channel (its members and the admins) can be named;
// naming anyone else refuses the whole note with MENTION_NO_ACCESS, which names them —
// a note silently not reaching someone the author meant to tell is the worse failure.
// Only its author deletes a note; the deletion is an event (`message.deleted`).
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { MentionDTO, MessageDTO } from '../../events/types.ts'
import { Errors } from '../../errors.ts'
import type { InboxRepos } from '../../store/inbox-store.ts'
import { toMessageDTO } from '../../store/inbox-store.ts'
import type { Mentionable, MentionsRepo } from '../../store/mentions.ts'
import type { Q } from '../../store/unit.ts'
import { canSeeChannel, channelFilterOf, type Access } from '../accounts/access.ts'
import { conversationInScopeUnit } from '../inbox/conversation-status.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { mentionedNames } from './mention-parse.ts'

export interface NotesDeps {
  /** Repositories only (an InboxStore is one): the units run on whichever database runs them (issue 17). */
  store: InboxRepos
  writer: InboxWriter
  mentions: MentionsRepo
  now: () => number
  /** Runs the units with their events, on either database. */
  unitLog: UnitLog
}

export interface NewNote {
  text: string
  /**
   * The people the composer's `@` picker inserted (user ids): they settle who a name
   * means when two teammates share it. An id whose `@Name` is no longer in the text (the
   * author deleted it) mentions nobody. Names typed by hand are found in the text too.
   */
  mentions?: readonly number[]
}

export class Notes {
  private readonly log: UnitLog

  constructor(private readonly deps: NotesDeps) {
    this.log = deps.unitLog
  }

  /** Writes the note and its mentions in one transaction; 404 outside the caller's channels, 422 for a name they cannot see. */
  create(access: Access, conversationId: number, input: NewNote): Promise<{ note: MessageDTO; mentions: MentionDTO[] }> {
    return this.log.transact((batch) => this.createUnit(batch, access, conversationId, input))
  }

  *createUnit(batch: Emitter, access: Access, conversationId: number, input: NewNote): Q<{ note: MessageDTO; mentions: MentionDTO[] }> {
    const ws = access.workspaceId
    const { store, writer, mentions } = this.deps
    const conversation = yield* store.conversations.conversationDTO(ws, conversationId)
    if (!conversation || !canSeeChannel(access, conversation.channelId)) throw Errors.notFound('Conversation')
    const named = yield* this.whoIsNamed(ws, conversation.channelId, input)
    const now = this.deps.now()
    const row = yield* writer.recordNote(batch, conversation, { workspaceId: ws, text: input.text, authorId: access.userId, now })
    const created: MentionDTO[] = []
    for (const person of named) {
      // Naming oneself tells nobody anything.
      if (person.id === access.userId) continue
      const mention = yield* mentions.insert({
        workspaceId: ws,
        userId: person.id,
        conversationId,
        messageId: row.id,
        authorId: access.userId,
        createdAt: now,
      })
      if (!mention) continue
      created.push(mention)
      // To that person alone, and only while they can see the channel (a replay after
      // they left it does not bring it back).
      batch.emit(ws, 'mention.created', { mention }, { channelId: conversation.channelId, userId: person.id })
    }
    return { note: toMessageDTO(row), mentions: created }
  }

  /** The author deletes their note and its mentions; 404 for anything that is not a note of this conversation, 403 for someone else's. */
  delete(access: Access, conversationId: number, noteId: number): Promise<void> {
    return this.log.transact((batch) => this.deleteUnit(batch, access, conversationId, noteId))
  }

  *deleteUnit(batch: Emitter, access: Access, conversationId: number, noteId: number): Q<void> {
    const { store, writer, mentions } = this.deps
    // The conversation first: outside the caller's channels it answers as not there at all.
    yield* conversationInScopeUnit(store, access, conversationId)
    const note = yield* store.messages.messageById(access.workspaceId, noteId)
    const isNote = note?.direction === 'system' && note.type === 'note' && note.conversationId === conversationId
    if (!note || !isNote || !canSeeChannel(access, note.channelId)) throw Errors.notFound('Note')
    if (note.senderUserId !== access.userId) throw Errors.noteNotYours()
    yield* mentions.deleteOfMessage(note.id)
    yield* writer.deleteNote(batch, note)
  }

  /** A person's mentions, newest first, in the channels they can see now, and how many are unread (one snapshot). */
  async list(access: Access, opts: { limit: number; beforeId?: number }): Promise<{ mentions: MentionDTO[]; unread: number }> {
    return (await this.log.snapshot(() => this.listUnit(access, opts))).result
  }

  *listUnit(access: Access, opts: { limit: number; beforeId?: number }): Q<{ mentions: MentionDTO[]; unread: number }> {
    const channels = channelFilterOf(access)
    const { mentions } = this.deps
    return {
      mentions: yield* mentions.list(access.workspaceId, access.userId, channels, opts),
      unread: yield* mentions.unread(access.workspaceId, access.userId, channels),
    }
  }

  /**
   * Marks the person's mentions read (these ids, or all of them) and tells their own
   * streams (`mentions.read`), so every tab and device clears them. Ids that are not
   * theirs, or already read, change nothing.
   */
  markRead(access: Access, ids: readonly number[] | null): Promise<{ mentionIds: number[]; unread: number }> {
    return this.log.transact((batch) => this.markReadUnit(batch, access, ids))
  }

  *markReadUnit(batch: Emitter, access: Access, ids: readonly number[] | null): Q<{ mentionIds: number[]; unread: number }> {
    const ws = access.workspaceId
    const readAt = this.deps.now()
    const { mentions } = this.deps
    const mentionIds = yield* mentions.markRead(ws, access.userId, ids, readAt)
    const unread = yield* mentions.unread(ws, access.userId, channelFilterOf(access))
    if (mentionIds.length > 0) batch.emit(ws, 'mentions.read', { mentionIds, readAt, unread }, { userId: access.userId })
    return { mentionIds, unread }
  }

  /**
   * The people the note names, each able to see the channel; the first who cannot
   * refuses the note (MENTION_NO_ACCESS, naming them).
   */
  private *whoIsNamed(workspaceId: number, channelId: number, input: NewNote): Q<Mentionable[]> {
    const { mentions } = this.deps
    const people = yield* mentions.people(workspaceId)
    const byId = new Map(people.map((p) => [p.id, p]))
    const canSee = function* (p: Mentionable): Q<boolean> {
      return !p.disabled && (p.role === 'admin' || (yield* mentions.isMember(channelId, p.id)))
    }
    const refuse = function* (p: Mentionable): Q<never> {
      const why = p.disabled
        ? 'their account is deactivated'
        : `they do not work the channel “${(yield* mentions.channelName(channelId)) ?? 'of this conversation'}”`
      throw Errors.mentionNoAccess(p.name, why)
    }
    const named = mentionedNames(
      input.text,
      people.filter((p) => !p.disabled || input.mentions?.includes(p.id)).map((p) => p.name),
    )
    const out = new Map<number, Mentionable>()
    // Names the picker settled: exactly these people.
    const settled = new Set<string>()
    for (const id of input.mentions ?? []) {
      const p = byId.get(id)
      if (!p) throw Errors.mentionUnknown()
      const name = p.name.trim().toLowerCase()
      if (!named.has(name)) continue
      if (!(yield* canSee(p))) yield* refuse(p)
      settled.add(name)
      out.set(p.id, p)
    }
    // Names typed by hand: whoever of the active team bears it and can see the channel
    // (two Anas, one of them on the channel: that one); nobody who can: refused.
    for (const name of named) {
      if (settled.has(name)) continue
      const bearers = people.filter((p) => !p.disabled && p.name.trim().toLowerCase() === name)
      if (bearers.length === 0) continue
      const able: Mentionable[] = []
      for (const p of bearers) if (yield* canSee(p)) able.push(p)
      if (able.length === 0) yield* refuse(bearers[0]!)
      for (const p of able) out.set(p.id, p)
    }
    return [...out.values()]
  }
}
