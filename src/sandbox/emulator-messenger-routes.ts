// HTTP for the Messenger side of the Meta sandbox (emulator-messenger.ts): the
// attachment "CDN" and Graph routes on the emulator's listener, and the simulator's
// API for playing Messenger users.
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { metaError, PLAYABLE, type Emulator } from './emulator.ts'
import { registerChangeStream } from './change-stream.ts'
import { HUMAN_AGENT_MS, WINDOW_MS, messengerOf, type ProfileFaults } from './emulator-messenger.ts'

const SIM_BODY_LIMIT = 8 * 1024 * 1024

/**
 * The Messenger "CDN": user images and the Page's attachments, public like Meta's signed
 * attachment URLs. It answers on Parley's own origin in sandbox mode, so only images a
 * browser decodes as images are shown inline; anything else is a download.
 */
export async function messengerGraphRoutes(app: FastifyInstance, opts: { emulator: Emulator }) {
  app.get('/messenger-cdn/:id', async (req, reply) => {
    const img = messengerOf(opts.emulator)?.imageBytes((req.params as { id: string }).id)
    if (!img) return reply.status(404).send(metaError(100, 'The attachment URL expired or does not exist').body())
    const inline = /^image\/(jpeg|png|gif|webp)$/.test(img.mimeType)
    // Audio and video keep their type so the player's <audio>/<video> plays them; like any
    // file they are still a download (attachment) if opened as a page.
    const passive = inline || PLAYABLE.test(img.mimeType)
    const name = (img.filename ?? 'attachment').replace(/[^A-Za-z0-9._ -]/g, '_')
    return reply
      .type(passive ? img.mimeType : 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('content-disposition', inline ? 'inline' : `attachment; filename="${name}"`)
      .send(img.bytes)
  })
}

const FaultScript = Type.Array(
  Type.Object(
    { error: Type.Integer(), httpStatus: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })) },
    { additionalProperties: false },
  ),
  { maxItems: 1000 },
)

const UserInputSchema = Type.Object({
  type: Type.Union([
    Type.Literal('text'),
    Type.Literal('image'),
    Type.Literal('quick_reply'),
    Type.Literal('reply'),
    Type.Literal('reaction'),
    Type.Literal('unreaction'),
    Type.Literal('postback'),
  ]),
  text: Type.Optional(Type.String({ maxLength: 2000 })),
  data: Type.Optional(Type.String({ maxLength: SIM_BODY_LIMIT })),
  mimeType: Type.Optional(Type.String({ maxLength: 100 })),
  payload: Type.Optional(Type.String({ maxLength: 1000 })),
  title: Type.Optional(Type.String({ maxLength: 200 })),
  mid: Type.Optional(Type.String({ maxLength: 200 })),
  emoji: Type.Optional(Type.String({ maxLength: 32 })),
  timestamp: Type.Optional(Type.Integer({ minimum: 0 })),
})

/** /api/sandbox/messenger/…: the simulator's Messenger users, next to the WhatsApp customers. */
export async function messengerSandboxRoutes(app: FastifyInstance, opts: { emulator: Emulator; guard?: onRequestHookHandler }) {
  const ms = messengerOf(opts.emulator)
  if (!ms) return
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const guarded = opts.guard ? { onRequest: opts.guard } : {}
  const P = Type.Object({ psid: Type.String({ maxLength: 30 }) })
  const bad = (reply: FastifyReply, message: string) => reply.status(400).send({ error: { code: 'SANDBOX_BAD_REQUEST', message } })
  const notFound = (reply: FastifyReply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such Messenger user' } })
  const publicUser = (psid: string) => {
    const u = ms.user(psid)!
    const now = Date.now()
    const age = u.lastInboundAt === null ? Infinity : now - u.lastInboundAt
    return {
      ...u,
      windowOpen: age < WINDOW_MS,
      humanAgentOpen: age < HUMAN_AGENT_MS,
      unread: ms.conversation(psid).filter((m) => m.direction === 'out' && m.status !== 'read').length,
    }
  }

  r.get('/api/sandbox/messenger', guarded, async () => ({
    pages: ms.config.pages.map((p) => ({ pageId: p.pageId, name: p.name })),
    delays: ms.config.delays,
    stats: ms.stats(),
  }))
  r.get('/api/sandbox/messenger/users', guarded, async () => ({ users: [...ms.users.keys()].map(publicUser) }))
  r.post(
    '/api/sandbox/messenger/users',
    {
      ...guarded,
      schema: {
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), psid: Type.Optional(Type.String({ maxLength: 30 })) }),
      },
    },
    async (req, reply) => {
      try {
        return reply.status(201).send({ user: publicUser(ms.createUser(req.body).psid) })
      } catch (err) {
        return bad(reply, (err as Error).message)
      }
    },
  )
  r.patch(
    '/api/sandbox/messenger/users/:psid',
    { ...guarded, schema: { params: P, body: Type.Object({ lastInboundAt: Type.Union([Type.Integer(), Type.Null()]) }) } },
    async (req, reply) => {
      if (!ms.setLastInbound(req.params.psid, req.body.lastInboundAt)) return notFound(reply)
      return { user: publicUser(req.params.psid) }
    },
  )
  r.get('/api/sandbox/messenger/users/:psid/messages', { ...guarded, schema: { params: P } }, async (req, reply) => {
    if (!ms.user(req.params.psid)) return notFound(reply)
    return { user: publicUser(req.params.psid), messages: ms.conversation(req.params.psid) }
  })
  r.post(
    '/api/sandbox/messenger/users/:psid/messages',
    { ...guarded, bodyLimit: SIM_BODY_LIMIT + 64 * 1024, schema: { params: P, body: UserInputSchema } },
    async (req, reply) => {
      if (!ms.user(req.params.psid)) return notFound(reply)
      try {
        const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`
        return reply.status(201).send(await ms.userSend(req.params.psid, req.body, base))
      } catch (err) {
        return bad(reply, (err as Error).message)
      }
    },
  )
  r.post('/api/sandbox/messenger/users/:psid/read', { ...guarded, schema: { params: P } }, async (req, reply) => {
    if (!ms.user(req.params.psid)) return notFound(reply)
    return { read: ms.userRead(req.params.psid) }
  })
  r.get('/api/sandbox/messenger/stats', guarded, async () => ms.stats())
  // The User Profile API's faults: refuse (a permission error), a scripted series, or hold.
  r.get('/api/sandbox/messenger/faults', guarded, async () => ({ profiles: ms.profileFaults, sends: ms.sendFaults }))
  r.put(
    '/api/sandbox/messenger/faults',
    {
      ...guarded,
      schema: {
        body: Type.Object(
          {
            profiles: Type.Optional(
              Type.Object(
                {
                  refuseCode: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
                  hold: Type.Optional(Type.Boolean()),
                  script: Type.Optional(
                    Type.Array(
                      Type.Union([
                        Type.Object({ error: Type.Integer(), httpStatus: Type.Optional(Type.Integer({ minimum: 200, maximum: 599 })) }),
                        Type.Object({ ok: Type.Literal(true) }),
                        Type.Object({ hold: Type.Literal(true) }),
                      ]),
                      { maxItems: 1000 },
                    ),
                  ),
                },
                { additionalProperties: false },
              ),
            ),
            // The Send API's and the Attachment Upload API's next answers: Meta errors, in order.
            sends: Type.Optional(
              Type.Object({ sends: Type.Optional(FaultScript), uploads: Type.Optional(FaultScript) }, { additionalProperties: false }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      profiles: req.body.profiles ? ms.setProfileFaults(req.body.profiles as Partial<ProfileFaults>) : ms.profileFaults,
      sends: req.body.sends ? ms.setSendFaults(req.body.sends) : ms.sendFaults,
    }),
  )
  r.post('/api/sandbox/messenger/faults/release', guarded, async () => ({ released: ms.releaseProfiles() }))
  // What reached the Graph emulator for sandbox Pages: method, URL as received, whether a Bearer token came.
  r.get('/api/sandbox/messenger/requests', guarded, async () => ({ requests: ms.requestLog }))

  // Its receipts and webhook retries end with the app (and its state is saved).
  app.addHook('onClose', async () => ms.stop())
  // Live changes for the simulator page's Messenger side; it refetches what changed.
  registerChangeStream(app, '/api/sandbox/messenger/stream', guarded, (send) => ms.onChange(send))
}
