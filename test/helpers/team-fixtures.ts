// A server with its admin signed in, and agents added straight through the app's own
// AuthService (the invitation route has its own tests): the set-up the team tests share.
import { apiCall, startServer, type ApiCall, type StartOptions, type TestLike, type TestServer } from './server.ts'

export const AGENT_PASSWORD = 'a long enough password'

export interface TeamServer {
  s: TestServer
  /** The admin's API client. */
  api: ApiCall
  adminToken: string
  workspaceId: number
  /** An active agent in the default workspace, with no channels; password AGENT_PASSWORD. */
  addAgent(name: string, email: string): Promise<{ id: number; email: string; name: string }>
  /** Signs the agent in: their bearer token. */
  tokenOf(email: string): Promise<string>
}

export async function teamServer(t: TestLike, opts: StartOptions = {}): Promise<TeamServer> {
  const s = await startServer(t, opts)
  const { token } = await s.login()
  const { auth } = s.app.services
  const workspaceId = auth.defaultWorkspace()
  return {
    s,
    api: apiCall(s.url, token),
    adminToken: token,
    workspaceId,
    addAgent: (name, email) => auth.createUser({ workspaceId, email, name, password: AGENT_PASSWORD, role: 'agent' }),
    tokenOf: async (email) => (await s.login({ email, password: AGENT_PASSWORD })).token,
  }
}
