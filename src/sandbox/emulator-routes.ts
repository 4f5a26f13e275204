// HTTP faces of the sandbox.
//   /sandbox/graph/{version}/…  the Graph API as Parley's client sees Meta's: Bearer
//                               auth, JSON and multipart bodies, Meta's error envelope.
//   /api/sandbox/…              the control API for the customer simulator page and tests:
//                               customers, their messages, reads, faults, counters, a
//                               change stream.
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import multipart from '@fastify/multipart'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { type Emulator, MetaError, metaError, PLAYABLE, type Faults } from './emulator.ts'
import { messengerOf } from './emulator-messenger.ts'
import { messengerGraphRoutes, messengerSandboxRoutes } from './emulator-messenger-routes.ts'
import { registerChangeStream } from './change-stream.ts'

export interface EmulatorRoutesOptions {
  emulator: Emulator
  /** Who may drive the simulator (in Parley: a signed-in user). */
  guard?: onRequestHookHandler
}

const VERSION = /^v\d+\.\d+$/
// Uploads to the emulator: the largest thing Meta takes is a 100 MB document.
const UPLOAD_LIMIT = 100 * 1024 * 1024
// The simulator sends images as base64 JSON.
const SIM_BODY_LIMIT = 8 * 1024 * 1024

export async function emulatorGraphRoutes(app: FastifyInstance, opts: EmulatorRoutesOptions) {
  const { emulator } = opts
  await app.register(multipart, { limits: { fileSize: UPLOAD_LIMIT, files: 1 } })

  // Everything here answers in Meta's envelope, even a body that is not JSON.
  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof MetaError ? err : metaError(100, (err as Error).message)
    return reply.status(e.httpStatus).send(e.body())
  })
  app.setNotFoundHandler((req, reply) => {
    const e = new MetaError(400, 100, `Unknown path components: ${req.url.split('?')[0]}`)
    return reply.status(400).send(e.body())
  })

  const version = (req: FastifyRequest) => {
    const v = (req.params as { version: string }).version
    if (!VERSION.test(v)) throw new MetaError(400, 2500, 'Unknown path components')
  }
  // http://host/sandbox/graph: where the emulator's unversioned routes (media, "CDN") answer.
  const graphBase = (req: FastifyRequest) => `${req.protocol}://${req.headers.host}${req.url.replace(/\/v\d+\.\d+\/.*$/, '')}`
  const selfBase = (req: FastifyRequest) => `${req.protocol}://${req.headers.host}${req.url.replace(/\/(v\d+\.\d+)\/.*$/, '/$1')}`

  app.post('/:version/:id/messages', async (req, reply) => {
    version(req)
    const { id } = req.params as { id: string }
    // A sandbox Page's Send API: the Messenger emulator answers.
    const page = messengerOf(emulator)
    if (page?.hasPage(id)) {
      const out = page.send(
        id,
        req.headers.authorization,
        (req.query as { access_token?: string }).access_token,
        req.body,
        req.url,
        graphBase(req),
      )
      return reply.status(out.status).send(out.json)
    }
    const num = emulator.authorize(req.headers.authorization, id)
    if (id !== num.phoneNumberId) throw metaError(100, 'Messages are sent from a phone number id')
    const body = (req.body ?? {}) as Record<string, unknown>
    if (body.status === 'read') return emulator.markRead(num, body)
    const out = await emulator.send(num, body)
    switch (out.kind) {
      case 'reply':
        return reply.status(out.status).send(out.json)
      case 'drop':
        // Accepted, then the connection dies before the answer: the client cannot know.
        reply.hijack()
        req.raw.socket.destroy()
        return
      case 'hold':
        await Promise.race([out.released, new Promise<void>((r) => req.raw.socket.once('close', () => r()))])
        if (req.raw.socket.destroyed) {
          reply.hijack()
          return
        }
        return reply.status(200).send(out.json)
    }
  })

  // A sandbox Page's Attachment Upload API (multipart: `message` JSON + `filedata`).
  app.post('/:version/:id/message_attachments', async (req, reply) => {
    version(req)
    const { id } = req.params as { id: string }
    const page = messengerOf(emulator)
    if (!page?.hasPage(id))
      throw new MetaError(
        400,
        100,
        `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        undefined,
        33,
      )
    let token = (req.query as { access_token?: string }).access_token
    let message: unknown
    let file: { bytes: Buffer; mimeType: string; filename: string | null } | undefined
    if (req.isMultipart()) {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          if (part.fieldname === 'filedata')
            file = { bytes: await part.toBuffer(), mimeType: part.mimetype.split(';')[0]!.trim(), filename: part.filename || null }
          else await part.toBuffer()
        } else if (part.fieldname === 'message') message = part.value
        else if (part.fieldname === 'access_token' && typeof part.value === 'string') token ??= part.value
      }
    } else {
      message = (req.body as { message?: unknown } | undefined)?.message
    }
    const out = page.uploadAttachment(id, req.headers.authorization, token, { message, file }, req.url)
    return reply.status(out.status).send(out.json)
  })

  app.post('/:version/:id/media', async (req) => {
    version(req)
    const { id } = req.params as { id: string }
    const num = emulator.authorize(req.headers.authorization, id)
    if (!req.isMultipart()) throw metaError(100, 'The parameter file is required.')
    let product: unknown
    let file: { bytes: Buffer; mimeType: string; filename: string | null } | undefined
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        file = { bytes: await part.toBuffer(), mimeType: part.mimetype.split(';')[0]!.trim(), filename: part.filename || null }
      } else if (part.fieldname === 'messaging_product') {
        product = part.value
      }
    }
    if (!file) throw metaError(100, 'The parameter file is required.')
    return emulator.upload(num, file, product)
  })

  app.get('/:version/:id/message_templates', async (req) => {
    version(req)
    const { id } = req.params as { id: string }
    const num = emulator.authorize(req.headers.authorization, id)
    if (id !== num.wabaId) throw metaError(100, 'Templates belong to a WhatsApp Business Account id')
    const q = req.query as { limit?: string; after?: string }
    const limit = Math.min(100, Math.max(1, Number(q.limit) || 25))
    return emulator.templates(id, limit, q.after, selfBase(req))
  })

  // Meta's media URLs live on another host; here they live under the emulator.
  app.get('/media/:id', async (req, reply) => {
    emulator.authorize(req.headers.authorization)
    const { id } = req.params as { id: string }
    const q = req.query as { ext?: string }
    const got = emulator.mediaBytes(id, Number(q.ext))
    if (!got) return reply.status(404).send(metaError(100, 'The media URL expired or does not exist; ask for a new one').body())
    return reply.type(got.meta.mimeType).header('content-length', got.bytes.length).send(got.bytes)
  })

  await app.register(messengerGraphRoutes, { emulator })

  app.get('/:version/:id', async (req, reply) => {
    version(req)
    const { id } = req.params as { id: string }
    // A sandbox Page's token: the User Profile API (GET /{psid}?fields=…) of its simulated users.
    const page = messengerOf(emulator)
    const q = req.query as { access_token?: string; fields?: string }
    // A Page token asking who it is (Settings' credential check).
    if (id === 'me' && page?.ownsToken(req.headers.authorization, q.access_token)) {
      const out = page.me(req.headers.authorization, q.access_token, req.url)
      return reply.status(out.status).send(out.json)
    }
    if (page?.ownsToken(req.headers.authorization, q.access_token)) {
      const out = page.profile(id, req.headers.authorization, q.access_token, q.fields, req.url)
      if (out.kind === 'hold') {
        await Promise.race([out.released, new Promise<void>((r) => req.raw.socket.once('close', () => r()))])
        if (req.raw.socket.destroyed) {
          reply.hijack()
          return
        }
      }
      return reply.status(out.status).send(out.json)
    }
    // A number's own fields (Settings' credential check); anything else here is a media id.
    if (/\b(verified_name|display_phone_number)\b/.test(q.fields ?? '')) return emulator.numberInfo(req.headers.authorization, id)
    emulator.authorize(req.headers.authorization)
    const base = `${graphBase(req)}/media`
    return emulator.mediaInfo(id, base)
  })
}

const CustomerInputSchema = Type.Object({
  type: Type.Union([
    Type.Literal('text'),
    Type.Literal('image'),
    Type.Literal('document'),
    Type.Literal('reaction'),
    Type.Literal('button'),
    Type.Literal('interactive'),
    Type.Literal('location'),
  ]),
  text: Type.Optional(Type.String({ maxLength: 4096 })),
  caption: Type.Optional(Type.String({ maxLength: 1024 })),
  contextId: Type.Optional(Type.String({ maxLength: 200 })),
  data: Type.Optional(Type.String({ maxLength: SIM_BODY_LIMIT })),
  mimeType: Type.Optional(Type.String({ maxLength: 100 })),
  filename: Type.Optional(Type.String({ maxLength: 200 })),
  reaction: Type.Optional(Type.Object({ messageId: Type.String({ maxLength: 200 }), emoji: Type.String({ maxLength: 32 }) })),
  button: Type.Optional(
    Type.Object({
      text: Type.String({ maxLength: 256 }),
      payload: Type.Optional(Type.String({ maxLength: 256 })),
      id: Type.Optional(Type.String({ maxLength: 256 })),
    }),
  ),
  location: Type.Optional(
    Type.Object({
      latitude: Type.Number(),
      longitude: Type.Number(),
      name: Type.Optional(Type.String({ maxLength: 200 })),
      address: Type.Optional(Type.String({ maxLength: 400 })),
    }),
  ),
  timestamp: Type.Optional(Type.Integer({ minimum: 0 })),
})

const FaultsSchema = Type.Object(
  {
    errorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    errorCode: Type.Optional(Type.Integer()),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    duplicateRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    outOfOrder: Type.Optional(Type.Boolean()),
    dropRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    holdSends: Type.Optional(Type.Boolean()),
    pauseWebhooks: Type.Optional(Type.Boolean()),
    script: Type.Optional(
      Type.Array(
        Type.Union([
          Type.Object({ error: Type.Integer(), httpStatus: Type.Optional(Type.Integer({ minimum: 200, maximum: 599 })) }),
          Type.Object({ drop: Type.Literal(true) }),
          Type.Object({ hold: Type.Literal(true) }),
          Type.Object({ ok: Type.Literal(true) }),
        ]),
        { maxItems: 1000 },
      ),
    ),
  },
  { additionalProperties: false },
)

export async function sandboxApiRoutes(app: FastifyInstance, opts: EmulatorRoutesOptions) {
  const { emulator } = opts
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const guarded = opts.guard ? { onRequest: opts.guard } : {}
  const bad = (reply: FastifyReply, message: string) => reply.status(400).send({ error: { code: 'SANDBOX_BAD_REQUEST', message } })
  const notFound = (reply: FastifyReply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such customer' } })

  const publicCustomer = (phone: string) => {
    const c = emulator.customer(phone)!
    const now = Date.now()
    return {
      ...c,
      windowOpen: c.lastInboundAt !== null && now - c.lastInboundAt < 24 * 3600_000,
      unread: emulator
        .conversation(phone)
        .filter((m) => m.direction === 'out' && m.status !== 'read' && m.status !== 'failed' && m.type !== 'reaction').length,
    }
  }

  // Public: the inbox asks it to show "sandbox mode"; it reveals nothing secret.
  app.get('/api/sandbox/info', async () => {
    const n = emulator.config.numbers[0]!
    return {
      sandbox: true,
      phoneNumberId: n.phoneNumberId,
      displayPhoneNumber: n.displayPhoneNumber,
      wabaId: n.wabaId,
      statusDelays: emulator.config.statusDelays,
    }
  })

  r.get('/api/sandbox/customers', guarded, async () => ({
    customers: [...emulator.state.customers.keys()].map(publicCustomer),
  }))

  r.post(
    '/api/sandbox/customers',
    {
      ...guarded,
      schema: {
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          phone: Type.Optional(Type.String({ maxLength: 30 })),
        }),
      },
    },
    async (req, reply) => {
      try {
        const c = emulator.createCustomer(req.body)
        return reply.status(201).send({ customer: publicCustomer(c.phone) })
      } catch (err) {
        return bad(reply, (err as Error).message)
      }
    },
  )

  r.patch(
    '/api/sandbox/customers/:phone',
    {
      ...guarded,
      schema: {
        params: Type.Object({ phone: Type.String({ maxLength: 30 }) }),
        body: Type.Object({ lastInboundAt: Type.Union([Type.Integer(), Type.Null()]) }),
      },
    },
    async (req, reply) => {
      const c = emulator.setLastInbound(req.params.phone, req.body.lastInboundAt)
      if (!c) return notFound(reply)
      return { customer: publicCustomer(c.phone) }
    },
  )

  r.get(
    '/api/sandbox/customers/:phone/messages',
    { ...guarded, schema: { params: Type.Object({ phone: Type.String({ maxLength: 30 }) }) } },
    async (req, reply) => {
      if (!emulator.customer(req.params.phone)) return notFound(reply)
      return { customer: publicCustomer(req.params.phone), messages: emulator.conversation(req.params.phone) }
    },
  )

  r.post(
    '/api/sandbox/customers/:phone/messages',
    {
      ...guarded,
      bodyLimit: SIM_BODY_LIMIT + 64 * 1024,
      schema: { params: Type.Object({ phone: Type.String({ maxLength: 30 }) }), body: CustomerInputSchema },
    },
    async (req, reply) => {
      if (!emulator.customer(req.params.phone)) return notFound(reply)
      try {
        const out = await emulator.customerSend(req.params.phone, req.body)
        return reply.status(201).send(out)
      } catch (err) {
        return bad(reply, (err as Error).message)
      }
    },
  )

  r.post(
    '/api/sandbox/customers/:phone/read',
    { ...guarded, schema: { params: Type.Object({ phone: Type.String({ maxLength: 30 }) }) } },
    async (req, reply) => {
      if (!emulator.customer(req.params.phone)) return notFound(reply)
      return { read: emulator.customerRead(req.params.phone) }
    },
  )

  // The customer's phone showing a business image, audio or video: bytes without the Graph token dance.
  r.get(
    '/api/sandbox/media/:id',
    { ...guarded, schema: { params: Type.Object({ id: Type.String({ maxLength: 40 }) }) } },
    async (req, reply) => {
      const meta = emulator.state.media.get(req.params.id)
      const bytes = meta && emulator.state.mediaData(req.params.id)
      if (!meta || !bytes) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such media' } })
      const inline = /^image\/(jpeg|png|gif|webp)$/.test(meta.mimeType)
      // Audio and video keep their type for the phone's player (<audio>, <video> play them
      // passively, as Parley's media route allows); still a download if opened as a page.
      const passive = inline || PLAYABLE.test(meta.mimeType)
      return reply
        .type(passive ? meta.mimeType : 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', inline ? 'inline' : 'attachment')
        .send(bytes)
    },
  )

  r.get('/api/sandbox/faults', guarded, async () => ({ faults: emulator.faults }))
  r.put('/api/sandbox/faults', { ...guarded, schema: { body: FaultsSchema } }, async (req) => ({
    faults: emulator.setFaults(req.body as Partial<Faults>),
  }))
  r.post('/api/sandbox/faults/release', guarded, async () => ({ released: emulator.release() }))

  r.get('/api/sandbox/stats', guarded, async () => emulator.stats())
  await app.register(messengerSandboxRoutes, { emulator, ...(opts.guard ? { guard: opts.guard } : {}) })

  // Live changes for the simulator page; it refetches what changed.
  registerChangeStream(app, '/api/sandbox/stream', guarded, (send) => emulator.onChange(send))
}
