// Conversation list, message history, read marking and resolve/reopen. Each list response carries
// the event cursor it is current to, so a client opens /stream?lastEventId= from
// exactly there and misses nothing between the page load and the stream.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { setConversationStatus } from '../domain/inbox/conversation-status.ts'

const DEFAULT_PAGE = 50
const MAX_PAGE = 200

function encodeCursor(parts: number[]): string {
  return Buffer.from(parts.join(':')).toString('base64url')
}
function decodeCursor(raw: string, n: number): number[] {
  const parts = Buffer.from(raw, 'base64url').toString('utf8').split(':').map(Number)
  if (parts.length !== n || parts.some((p) => !Number.isSafeInteger(p))) throw Errors.badCursor()
  return parts
}

export async function conversationRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, events, db, clock } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  // Reads run in one transaction with the cursor, so the cursor names exactly the
  // state the page shows. One transaction function for every read: better-sqlite3
  // builds a new wrapper (five variants) for each transaction() call.
  const inSnapshot = db.$client.transaction((fn: () => unknown) => ({ result: fn(), eventId: events.cursor() }))
  const snapshot = <T>(fn: () => T) => inSnapshot(fn) as { result: T; eventId: string }

  r.get(
    '/api/conversations',
    {
      schema: {
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
          status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')])),
          // Search by contact name or number (the inbox's search box).
          q: Type.Optional(Type.String({ maxLength: 100 })),
          // The inbox's channel filter: one number or page by id, or every channel of a kind.
          channel: Type.Optional(Type.Integer({ minimum: 1 })),
          kind: Type.Optional(Type.Union([Type.Literal('whatsapp'), Type.Literal('messenger')])),
        }),
      },
    },
    async (req) => {
      const limit = req.query.limit ?? DEFAULT_PAGE
      const before = req.query.cursor ? decodeCursor(req.query.cursor, 2) : undefined
      const status = req.query.status === 'all' ? undefined : req.query.status
      const { result, eventId } = snapshot(() =>
        store.listConversations(req.session.workspaceId, {
          limit: limit + 1,
          status,
          q: req.query.q,
          channelId: req.query.channel,
          kind: req.query.kind,
          before: before && { at: before[0]!, id: before[1]! },
        }),
      )
      const page = result.slice(0, limit)
      const last = page[page.length - 1]
      return {
        conversations: page,
        nextCursor: result.length > limit && last ? encodeCursor([last.lastActivityAt, last.id]) : null,
        eventId,
      }
    },
  )

  r.get('/api/conversations/:id', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const { result, eventId } = snapshot(() => store.conversation(req.session.workspaceId, req.params.id))
    if (!result) throw Errors.notFound('Conversation')
    return { conversation: result, eventId }
  })

  r.get(
    '/api/conversations/:id/messages',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
        }),
      },
    },
    async (req) => {
      const ws = req.session.workspaceId
      const limit = req.query.limit ?? DEFAULT_PAGE
      const beforeId = req.query.cursor ? decodeCursor(req.query.cursor, 1)[0] : undefined
      const { result, eventId } = snapshot(() => {
        // Another workspace's conversation answers 404, not an empty page.
        if (!store.conversationExists(ws, req.params.id)) return undefined
        return store.listMessages(ws, req.params.id, { limit: limit + 1, beforeId })
      })
      if (!result) throw Errors.notFound('Conversation')
      const page = result.slice(0, limit)
      const oldest = page[page.length - 1]
      return {
        // Newest page first; within a page, oldest to newest as a chat reads.
        messages: page.reverse(),
        nextCursor: result.length > limit && oldest ? encodeCursor([oldest.id]) : null,
        eventId,
      }
    },
  )

  // Resolve / reopen (issue 11): 200 with the conversation as the list shows it; the
  // change and its timeline line reach every agent as events.
  r.post(
    '/api/conversations/:id/status',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const who = { workspaceId: req.session.workspaceId, userId: req.session.userId }
      const conversation = setConversationStatus(
        { store, writer: opts.services.writer, events, now: () => clock.now() },
        who,
        req.params.id,
        req.body.status,
      )
      return { conversation }
    },
  )

  r.post('/api/conversations/:id/read', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const ws = req.session.workspaceId
    let hadUnread = false
    const conversation = events.transact((batch) => {
      const changed = store.markRead(ws, req.params.id, clock.now())
      hadUnread = changed !== undefined
      const dto = store.conversation(ws, req.params.id)
      if (changed && dto) opts.services.writer.conversationChanged(batch, ws, dto)
      return dto
    })
    if (!conversation) throw Errors.notFound('Conversation')
    // Blue ticks on the customer's phone; off the request path, best effort.
    if (hadUnread) void opts.services.sending.replies.markReadOnWhatsApp(ws, req.params.id)
    return { conversation }
  })
}
