// Baseline: the HTTP stack's limit. A bare Fastify JSON POST route that does nothing
// but let Fastify read and parse the body and answer 200, on the same path and with
// the same bodies the webhook gets.
import Fastify from 'fastify'
import { serve } from '../lib/proc.ts'

const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 })
app.post('/webhooks/whatsapp', async () => 'EVENT_RECEIVED')
const rpc = serve({}, () => app.close())
app
  .listen({ port: 0, host: '127.0.0.1' })
  .then(() => {
    const addr = app.server.address()
    rpc.ready({ port: typeof addr === 'object' && addr ? addr.port : 0 })
  })
  .catch((err) => rpc.failed(err))
