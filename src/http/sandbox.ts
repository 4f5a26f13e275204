// Mounts the sandbox in Parley (sandbox mode only): the Graph API emulator under
// /sandbox/graph and the customer simulator's control API under /api/sandbox, which
// needs a signed-in user (it can put words in any simulated customer's mouth).
import type { FastifyInstance } from 'fastify'
import { emulatorGraphRoutes, sandboxApiRoutes } from '../sandbox/emulator-routes.ts'
import type { SandboxMode } from '../sandbox/sandbox-mode.ts'

export async function sandboxRoutes(app: FastifyInstance, opts: { sandbox: SandboxMode }) {
  const { emulator } = opts.sandbox
  await app.register(emulatorGraphRoutes, { prefix: '/sandbox/graph', emulator })
  await app.register(sandboxApiRoutes, { emulator, guard: app.authenticate })
}
