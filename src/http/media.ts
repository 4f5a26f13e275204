// Media for agents: uploads to send (multipart, parsed only in this plugin) and the
// authenticated download route for every stored file. Files are customer-controlled
// bytes, so they are never rendered by the browser as a page: nosniff, a sandboxing
// CSP, and `attachment` for everything but a few image types shown inline. A file is
// its message's channel's: outside the caller's channels it answers 404 (issue 13).
import { createReadStream } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import multipart from '@fastify/multipart'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AppError, Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { canSeeMedia } from './scope.ts'

// Images a browser decodes as images and nothing else (no SVG: it can carry script).
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
// Types that keep their name because a page plays or shows them passively (<audio>,
// <video>, the PDF viewer); any other type — text/html, SVG, XML — is served as bytes.
const PASSIVE = /^(image\/(jpeg|png|gif|webp)|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+|application\/pdf)$/

export function contentTypeOf(mime: string | null): string {
  const base = (mime ?? '').split(';')[0]!.trim().toLowerCase()
  return PASSIVE.test(base) ? base : 'application/octet-stream'
}

export function dispositionOf(type: string, filename: string | null): string {
  const kind = INLINE_TYPES.has(type) ? 'inline' : 'attachment'
  if (!filename) return kind
  const ascii = filename.replace(/[^A-Za-z0-9._ -]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

export async function mediaRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config } = opts.services
  const { media } = opts.services.sending
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)
  await app.register(multipart, {
    limits: { fileSize: config.media.uploadMaxBytes, files: 1, fields: 10, parts: 11 },
  })
  // A streamed file can finish just after close() began; its keep-alive connection was
  // busy when the server closed idle ones, and would hold the close for the 72 s
  // keep-alive timeout. Once closing, each finished response closes what is now idle.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections()
  })

  r.post('/api/media', async (req, reply) => {
    if (!req.isMultipart()) throw Errors.invalidMessage('Upload the file as multipart/form-data in a field named "file"')
    let saved: Awaited<ReturnType<typeof media.saveUpload>>
    try {
      const file = await req.file()
      if (!file) throw Errors.invalidMessage('No file in the upload')
      saved = await media.saveUpload(req.session.workspaceId, req.session.userId, {
        stream: file.file,
        mimetype: file.mimetype,
        filename: file.filename,
      })
    } catch (err) {
      if (err instanceof AppError) throw err
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw Errors.mediaTooLarge(`The file is larger than ${Math.floor(config.media.uploadMaxBytes / 1024 / 1024)} MB`)
      }
      throw err
    }
    return reply.status(201).send({ media: saved })
  })

  r.get('/api/media/:id', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req, reply) => {
    const found = await opts.services.units.read(() => media.forServingUnit(req.session.workspaceId, req.params.id))
    if (!found || !(await canSeeMedia(opts.services, req.access, found.row))) throw Errors.notFound('Media')
    const type = contentTypeOf(found.row.mimeType)
    reply
      .header('Content-Type', type)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Disposition', dispositionOf(type, found.row.filename))
      .header('Content-Security-Policy', "default-src 'none'; sandbox")
      .header('Cross-Origin-Resource-Policy', 'same-origin')
      // Private: another user of a shared proxy must never get it from a cache.
      .header('Cache-Control', 'private, max-age=86400')
    if (found.row.size !== null) reply.header('Content-Length', found.row.size)
    return reply.send(createReadStream(found.file))
  })
}
