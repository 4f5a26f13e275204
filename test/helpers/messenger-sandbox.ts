// A real Parley in sandbox mode with the emulator playing Messenger users, driven over
// real HTTP as the simulator and an agent drive it: the Messenger tests share this.
import { apiCall, startServer, type TestLike } from './server.ts'
import { uploadMedia } from './media-files.ts'
import type { ConversationDTO, MessageDTO } from '../../src/events/types.ts'

export async function startMessengerSandbox(t: TestLike, env: Record<string, string> = {}) {
  // The sandbox runs on SQLite only (app.ts): these tests stay there under PARLEY_TEST_DATABASE=postgres.
  const s = await startServer(t, {
    sqlite: true,
    env: { WHATSAPP_PHONE_NUMBER_ID: '', SANDBOX_SENT_DELAY_MS: '20', SANDBOX_DELIVERED_DELAY_MS: '80', ...env },
  })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const user = async (name: string) => {
    const r = await call('POST', '/api/sandbox/messenger/users', { name })
    if (r.status !== 201) throw new Error(`user: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.user.psid as string
  }
  /** The user writes; resolves once Parley answered the signed webhook 200. */
  const say = async (psid: string, input: Record<string, unknown>) => {
    const r = await call('POST', `/api/sandbox/messenger/users/${psid}/messages`, input)
    if (r.status !== 201 || r.body.delivered !== true) throw new Error(`say: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.message as { mid: string }
  }
  const conversationOf = async (psid: string) => {
    const convs = (await call('GET', '/api/conversations?status=all')).body.conversations as ConversationDTO[]
    const c = convs.find((x) => x.channelKind === 'messenger' && x.contact.externalId === psid)
    if (!c) throw new Error('no Messenger conversation for ' + psid)
    return c
  }
  /** A new user writes one text: the Messenger conversation it opens. */
  const chat = async (name: string, text: string, timestamp?: number) => {
    const psid = await user(name)
    await say(psid, { type: 'text', text, ...(timestamp === undefined ? {} : { timestamp }) })
    return { psid, conv: await conversationOf(psid) }
  }
  const messages = async (convId: number) => (await call('GET', `/api/conversations/${convId}/messages`)).body.messages as MessageDTO[]
  const reply = (convId: number, text: string, clientMessageId = `c-${Math.random()}`) =>
    call('POST', `/api/conversations/${convId}/messages`, { text, clientMessageId })
  /** The agent's upload, as the composer does it: multipart to /api/media. */
  const upload = (bytes: Buffer, mimeType: string, filename: string) => uploadMedia(s.url, token, bytes, mimeType, filename)
  const atUser = async (psid: string) => (await call('GET', `/api/sandbox/messenger/users/${psid}/messages`)).body.messages as any[]
  const stats = async () => (await call('GET', '/api/sandbox/messenger/stats')).body
  return { s, token, call, user, say, conversationOf, chat, messages, reply, upload, atUser, stats }
}
