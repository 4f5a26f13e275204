// Conversation list, message history, read marking and the status (open, pending, resolved). Each list response carries
// the event cursor it is current to, so a client opens /stream?lastEventId= from
// exactly there and misses nothing between the page load and the stream. Everything
// here is scoped by the caller's channels (issue 13): a list shows only those, and a
// conversation outside them answers 404; a conversation's unread count is the caller's own.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { conversationInScopeUnit, setConversationStatusUnit } from '../domain/inbox/conversation-status.ts'
import { canSeeChannel, channelFilterOf } from '../domain/accounts/access.ts'
import { decodeCursor, idFromCursor, keysetPage } from './paging.ts'
import { readMessagePage, type MessagePageAt } from './message-pages.ts'

const DEFAULT_PAGE = 50
const MAX_PAGE = 200

export async function conversationRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, unitLog, units, writer, clock } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.get(
    '/api/conversations',
    {
      schema: {
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
          status: Type.Optional(
            Type.Union([
              Type.Literal('open'),
              Type.Literal('pending'),
              Type.Literal('snoozed'),
              Type.Literal('resolved'),
              Type.Literal('all'),
            ]),
          ),
          // Search by contact name or number (the inbox's search box).
          q: Type.Optional(Type.String({ maxLength: 100 })),
          // The inbox's channel filter: one number or page by id, or every channel of a kind.
          channel: Type.Optional(Type.Integer({ minimum: 1 })),
          kind: Type.Optional(Type.Union([Type.Literal('whatsapp'), Type.Literal('messenger')])),
          // Mine (assigned to me), Unassigned, All (default): always within my channels.
          view: Type.Optional(Type.Union([Type.Literal('mine'), Type.Literal('unassigned'), Type.Literal('all')])),
          // Issue 14: only conversations carrying this label.
          label: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
      },
    },
    async (req) => {
      const limit = req.query.limit ?? DEFAULT_PAGE
      const before = req.query.cursor ? decodeCursor(req.query.cursor, 2) : undefined
      const status = req.query.status === 'all' ? undefined : req.query.status
      const view = req.query.view === 'all' ? undefined : req.query.view
      const { result, eventId } = await unitLog.snapshot(() =>
        store.conversations.listConversationDTOs(
          req.session.workspaceId,
          {
            limit: limit + 1,
            status,
            q: req.query.q,
            channelId: req.query.channel,
            kind: req.query.kind,
            channelIds: channelFilterOf(req.access),
            view,
            label: req.query.label,
            before: before && { at: before[0]!, id: before[1]! },
          },
          { userId: req.access.userId },
        ),
      )
      const { page, nextCursor } = keysetPage(result, limit, (last) => [last.lastActivityAt, last.id])
      return { conversations: page, nextCursor, eventId }
    },
  )

  // The views' live counts: open conversations assigned to me, to nobody, and all of
  // them, within my channels.
  r.get('/api/conversations/counts', async (req) =>
    units.read(() => store.conversations.viewCounts(req.session.workspaceId, { userId: req.access.userId }, channelFilterOf(req.access))),
  )

  r.get('/api/conversations/:id', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const { result, eventId } = await unitLog.snapshot(() =>
      store.conversations.conversationDTOFor({ userId: req.access.userId }, req.session.workspaceId, req.params.id),
    )
    if (!result || !canSeeChannel(req.access, result.channelId)) throw Errors.notFound('Conversation')
    return { conversation: result, eventId }
  })

  // The history, a page at a time: the newest page, older (`cursor`), newer (`after`) or
  // around one message (`around`, issue 15: a search result); see message-pages.ts.
  r.get(
    '/api/conversations/:id/messages',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          after: Type.Optional(Type.String({ maxLength: 100 })),
          around: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
        }),
      },
    },
    async (req) => {
      const ws = req.session.workspaceId
      const { cursor, after, around } = req.query
      const limit = req.query.limit ?? DEFAULT_PAGE
      if ([cursor, after, around].filter((p) => p !== undefined).length > 1) throw Errors.pagingConflict()
      const at: MessagePageAt =
        around !== undefined
          ? { around }
          : after !== undefined
            ? { after: idFromCursor(after) }
            : { before: cursor ? decodeCursor(cursor, 1)[0] : undefined }
      const { result, eventId } = await unitLog.snapshot(function* () {
        // Another workspace's or channel's conversation answers 404, not an empty page.
        const channelId = yield* store.conversations.channelOf(ws, req.params.id)
        if (channelId === undefined || !canSeeChannel(req.access, channelId)) return 'no-conversation' as const
        return (yield* readMessagePage(store.messages, ws, req.params.id, limit, at)) ?? ('no-message' as const)
      })
      if (result === 'no-conversation') throw Errors.notFound('Conversation')
      // `around` a message of another conversation: as if it did not exist.
      if (result === 'no-message') throw Errors.notFound('Message')
      return { ...result, eventId }
    },
  )

  // Resolve / reopen (issue 11), pending (issue 14; any of them ends a snooze): 200 with
  // the conversation as the list shows it; the change and its timeline line reach every
  // agent as events.
  r.post(
    '/api/conversations/:id/status',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object(
          { status: Type.Union([Type.Literal('open'), Type.Literal('pending'), Type.Literal('resolved')]) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const who = { workspaceId: req.session.workspaceId, userId: req.session.userId }
      const id = req.params.id
      const { done, conversation } = await unitLog.transact(function* (batch) {
        yield* conversationInScopeUnit(store, req.access, id)
        const done = yield* setConversationStatusUnit({ repos: store, writer, now: () => clock.now() }, batch, who, id, req.body.status)
        // As the caller sees it (their own unread); the drain below never changes this conversation.
        return { done, conversation: (yield* store.conversations.conversationDTOFor({ userId: who.userId }, who.workspaceId, id))! }
      })
      // A resolved (or pending, issue 14) conversation frees a place under its assignee's cap:
      // the oldest waiting unassigned conversation of their auto-assign channels takes it
      // (after that commit). Only open ones count toward the cap (assignment.ts).
      const assigneeId = done.assignee?.id
      if (done.status !== 'open' && assigneeId !== undefined)
        await unitLog.transact((batch) => opts.services.assignment.drainForUnit(batch, who.workspaceId, assigneeId))
      return { conversation }
    },
  )

  // The caller's read position moves to the newest message: their unread is 0, anyone
  // else's stays as it was. Only the reader's streams hear it (a user audience within
  // the channel); the conversation's own count (the one events carry) is cleared too,
  // and the customer gets blue ticks the first time anyone reads.
  r.post('/api/conversations/:id/read', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const ws = req.session.workspaceId
    const viewer = { userId: req.access.userId }
    const read = await unitLog.transact(function* (batch) {
      yield* conversationInScopeUnit(store, req.access, req.params.id)
      return yield* writer.markRead(batch, ws, req.params.id, viewer.userId, clock.now())
    })
    if (!read) throw Errors.notFound('Conversation')
    const { conversation, hadUnread } = read
    // Blue ticks on the customer's phone; off the request path, best effort.
    if (hadUnread) void opts.services.sending.replies.markReadOnWhatsApp(ws, req.params.id)
    return { conversation }
  })
}
