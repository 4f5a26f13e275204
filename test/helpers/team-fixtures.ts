// A server with its admin signed in, and agents added straight through the app's own
// AuthService (the invitation route has its own tests): the set-up the team tests share.
import { apiCall, PHONE_NUMBER_ID, startServer, type ApiCall, type StartOptions, type TestLike, type TestServer } from './server.ts'
import { contact, envelope, text, value } from './wa.ts'
import { channelIdsOf, setMembers } from './members.ts'

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
  const workspaceId = await auth.defaultWorkspace()
  return {
    s,
    api: apiCall(s.url, token),
    adminToken: token,
    workspaceId,
    addAgent: (name, email) => auth.createUser({ workspaceId, email, name, password: AGENT_PASSWORD, role: 'agent' }),
    tokenOf: async (email) => (await s.login({ email, password: AGENT_PASSWORD })).token,
  }
}

/** The second WhatsApp number the two-channel tests add ('Support line'). */
export const SECOND_CHANNEL = { phoneNumberId: '100000000000003', secret: 'second-app-secret' }

/** A signed-in person: their id, bearer token and API client. */
export interface Person {
  id: number
  token: string
  call: ApiCall
}

export interface TwoChannelServer extends TeamServer {
  /** The configured WhatsApp channel (PHONE_NUMBER_ID). */
  first: number
  /** The second WhatsApp channel (SECOND_CHANNEL), created through POST /api/channels. */
  second: number
  /** What POST /api/channels answered for the second channel (201; anything else throws). */
  secondStatus: number
  /** An agent who works `channelIds`, signed in; email: the name in lower case, spaces as dots. */
  agent(name: string, channelIds: number[]): Promise<Person>
  /** The customer `from` (called `name`) writes `body` on the first channel or the second: a signed webhook that must answer 200. */
  customerWrites(from: string, name: string, body: string, on?: 'first' | 'second'): Promise<void>
}

/** A team server with a second WhatsApp number, and agents placed on channels. */
export async function twoChannelServer(t: TestLike, opts: StartOptions = {}): Promise<TwoChannelServer> {
  const ts = await teamServer(t, opts)
  const { s } = ts
  const created = await ts.api<{ channel: { id: number } }>('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND_CHANNEL.phoneNumberId,
    name: 'Support line',
    displayPhoneNumber: '15550003000',
    accessToken: 'EAA-second',
    appSecret: SECOND_CHANNEL.secret,
    verifyToken: 'second-verify',
  })
  if (created.status !== 201) throw new Error(`second channel: ${created.status}`)
  const first = (await s.sql.get<{ id: number }>('SELECT id FROM channels WHERE external_id = ?', [PHONE_NUMBER_ID]))!.id
  return {
    ...ts,
    first,
    second: created.body.channel.id,
    secondStatus: created.status,
    agent: async (name, channelIds) => {
      const email = `${name.toLowerCase().replace(/\s+/g, '.')}@example.com`
      const user = await ts.addAgent(name, email)
      await setMembers(s.app.services, user.id, channelIds)
      const token = await ts.tokenOf(email)
      return { id: user.id, token, call: apiCall(s.url, token) }
    },
    customerWrites: async (from, name, body, on = 'first') => {
      const v = value({
        ...(on === 'second' ? { phoneNumberId: SECOND_CHANNEL.phoneNumberId } : {}),
        contacts: [contact(from, name)],
        messages: [text(from, body)],
      })
      const res = await s.webhook(envelope(v), on === 'second' ? { secret: SECOND_CHANNEL.secret } : {})
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
    },
  }
}

/** The second agent of the two-browser tests (agent A is the admin). */
export const AGENT_B = { email: 'bea@example.com', password: 'another good password', name: 'Bea' }

/** Adds AGENT_B as an agent who works every channel of the default workspace (issue 13); answers the user. */
export async function addAgentB(s: TestServer): Promise<{ id: number }> {
  const { auth } = s.app.services
  const ws = await auth.defaultWorkspace()
  const b = await auth.createUser({ ...AGENT_B, workspaceId: ws, role: 'agent' })
  await setMembers(s.app.services, b.id, await channelIdsOf(s.app.services, ws))
  return b
}

/** An admin of a second workspace ('Other shop'), signed in: the workspace's id, their token and API client. */
export async function otherWorkspaceAdmin(s: TestServer): Promise<{ workspaceId: number; token: string; call: ApiCall }> {
  const workspaceId = (await s.sql.get<{ id: number }>(`INSERT INTO workspaces(name) VALUES ('Other shop') RETURNING id`))!.id
  const login = { email: 'other@example.com', password: 'other password 1' }
  await s.app.services.auth.createUser({ workspaceId, ...login, name: 'Other', role: 'admin' })
  const { token } = await s.login(login)
  return { workspaceId, token, call: apiCall(s.url, token) }
}

export interface AnaAndBen extends TwoChannelServer {
  /** The admin's bearer token. */
  admin: string
  /** Member of the first channel only. */
  ana: Person
  /** Member of the second channel only. */
  ben: Person
}

/** twoChannelServer with agent Ana on the first channel only and agent Ben on the second only. */
export async function anaAndBen(t: TestLike, opts: StartOptions = {}): Promise<AnaAndBen> {
  const ts = await twoChannelServer(t, opts)
  return { ...ts, admin: ts.adminToken, ana: await ts.agent('Ana', [ts.first]), ben: await ts.agent('Ben', [ts.second]) }
}
