// The Messenger player's state: simulated Messenger users of the sandbox Page on the
// shared player (player-state.ts), plus what only Messenger has — the Page's name,
// replies by mid, reactions that can be taken back (unreact), quick replies and postbacks.
// "Read" here is Messenger's seen: the emulator turns it into a read watermark.
import { signal } from '@preact/signals'
import { ApiError } from '../api/client.ts'
import { createPlayer, errorText, toBase64 } from './player-state.ts'
import { messengerApi, type MsMessage, type MsUserInput, type MsUserView } from './messenger-api.ts'

const HOUR_MS = 3600_000
const DAY_MS = 24 * HOUR_MS

export function createMessengerPlayer() {
  const started = signal(false)
  const pageName = signal<string | null>(null)

  const player = createPlayer<MsUserView, MsMessage, MsUserInput>({
    streamUrl: messengerApi.streamUrl,
    changeField: 'psid',
    idOf: (u) => u.psid,
    people: async () => (await messengerApi.users()).users,
    messages: async (psid) => (await messengerApi.messages(psid)).messages,
    send: (psid, input) => messengerApi.send(psid, input),
    read: (psid) => messengerApi.read(psid),
    unread: (m) => m.direction === 'out' && m.status !== 'read',
    // The WhatsApp side owns the page's signed-out state; here it is only said.
    onFailure: (err) =>
      err instanceof ApiError && err.status === 401 ? 'Signed out: sign in to the inbox again, then reload.' : errorText(err),
  })

  /** Started the first time the player is shown (the WhatsApp side needs none of this). */
  async function start() {
    if (started.value) return
    started.value = true
    try {
      pageName.value = (await messengerApi.info()).pages[0]?.name ?? null
      await player.open()
      player.goLive()
    } catch (err) {
      player.fail(err)
    }
  }

  const createUser = (name: string) => player.add(async () => (await messengerApi.createUser(name.trim())).user)

  function sendText(text: string) {
    const target = player.replyTo.value
    return player.send(target ? { type: 'reply', text, mid: target.mid } : { type: 'text', text })
  }

  async function sendImage(file: File) {
    if (!/^image\/(jpeg|png|gif|webp)$/.test(file.type)) {
      player.say('Send a JPEG, PNG, GIF or WebP image.')
      return false
    }
    if (file.size > 5 * 1024 * 1024) {
      player.say('Keep sandbox images under 5 MB.')
      return false
    }
    return player.send({ type: 'image', data: await toBase64(file), mimeType: file.type })
  }

  const quickReply = (text: string, payload: string) => player.send({ type: 'quick_reply', text, payload })
  const postback = (title: string, payload: string) => player.send({ type: 'postback', title, payload })
  const react = (target: MsMessage, emoji: string | null) =>
    player.send(emoji ? { type: 'reaction', mid: target.mid, emoji } : { type: 'unreaction', mid: target.mid })

  /**
   * Demo aid: the user's message dated a day and an hour ago (replies need the HUMAN_AGENT
   * tag) or 8 days ago (nothing gets through), as Meta delivers a late message.
   */
  function wroteEarlier(days: 1 | 8) {
    const open = days === 1 ? (u: MsUserView) => u.windowOpen : (u: MsUserView) => u.humanAgentOpen
    const since = days === 1 ? 'the last 24 hours' : 'the last 7 days'
    return player.writeEarlier(
      { type: 'text', text: `Hello? (written ${days === 1 ? 'a day' : '8 days'} ago)`, timestamp: Date.now() - days * DAY_MS - HOUR_MS },
      open,
      `This user wrote within ${since}, and Meta counts the window from the newest message: it stays as it is. Add a new user and press this before they write anything else.`,
    )
  }

  return { ...player, pageName, start, createUser, sendText, sendImage, quickReply, postback, react, wroteEarlier }
}

export type MessengerPlayer = ReturnType<typeof createMessengerPlayer>
