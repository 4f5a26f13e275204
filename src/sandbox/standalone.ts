// The emulator on its own listener: the outside world for tests that stop and restart
// Parley (it must outlive the app, as Meta outlives a crash of ours).
import Fastify, { type FastifyInstance } from 'fastify'
import { Emulator, GRAPH_VERSION, type EmulatorConfig } from './emulator.ts'
import { emulatorGraphRoutes, sandboxApiRoutes } from './emulator-routes.ts'

export interface EmulatorServer {
  emulator: Emulator
  app: FastifyInstance
  /** http://127.0.0.1:port */
  url: string
  /** What Parley's GRAPH_API_URL should be. */
  graphUrl: string
  close(): Promise<void>
}

export async function startEmulatorServer(config: EmulatorConfig, listen: { port?: number; host?: string } = {}): Promise<EmulatorServer> {
  const emulator = new Emulator(config)
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
  await app.register(emulatorGraphRoutes, { prefix: '/sandbox/graph', emulator })
  await app.register(sandboxApiRoutes, { emulator })
  app.addHook('preClose', async () => emulator.stop())
  await app.listen({ port: listen.port ?? 0, host: listen.host ?? '127.0.0.1' })
  const addr = app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('emulator: no address')
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const url = `http://${host}:${addr.port}`
  emulator.start()
  return {
    emulator,
    app,
    url,
    graphUrl: `${url}/sandbox/graph/${GRAPH_VERSION}`,
    close: () => app.close(),
  }
}
