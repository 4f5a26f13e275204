// Serves the built browser app (web/dist): hashed assets cached for a year, HTML
// never cached (so a deploy is picked up on the next load), and every other GET that
// is not an API path answers the inbox's index.html so client routes like /c/42 load.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'

export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url))

// Paths owned by the server: an unknown one answers the JSON 404, never the app's HTML
// (a missing API route must not look like a 200 to a client or a proxy health check).
const SERVER_PATHS = /^\/(api|stream|webhooks|sandbox\/graph)(\/|$)/

const HTML_CACHE = 'no-cache'
// Vite names every asset by its content hash: a changed file is a new URL.
const ASSET_CACHE = 'public, max-age=31536000, immutable'

export async function webRoutes(app: FastifyInstance, opts: { webDir?: string } = {}) {
  const root = opts.webDir ?? DEFAULT_WEB_DIR
  const built = existsSync(path.join(root, 'index.html'))

  if (built) {
    await app.register(fastifyStatic, {
      root: path.join(root, 'assets'),
      prefix: '/assets/',
      // Cache-Control is set here: @fastify/static's own header lacks `public`, and
      // this hook also runs for sendFile, so HTML is told apart by its extension.
      cacheControl: false,
      setHeaders: (reply, file) => void reply.header('Cache-Control', file.endsWith('.html') ? HTML_CACHE : ASSET_CACHE),
      index: false,
    })
  }

  const page = (reply: FastifyReply, file: string) => {
    if (!built) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The web app is not built. Run `npm run build` (or `npm start`, which builds it first).\n')
    }
    return reply.sendFile(file, root)
  }

  app.get('/sandbox', (_req, reply) => page(reply, 'sandbox.html'))
  app.get('/*', (req, reply) => {
    const pathname = req.url.split('?')[0] ?? '/'
    if (SERVER_PATHS.test(pathname) || pathname.startsWith('/assets/')) {
      return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'Route not found' } })
    }
    return page(reply, 'index.html')
  })
}
