// The Messenger player's state: simulated Messenger users of the sandbox Page on the
// shared player (player-state.ts), plus what only Messenger has — the Page's name,
// replies by mid, reactions that can be taken back (unreact), quick replies and postbacks.
// "Read" here is Messenger's seen: the emulator turns it into a read watermark.
import { signal } from '@preact/signals'
import { SandboxError } from './api.ts'
import { createPlayer, errorText, toBase64 } from './player-state.ts'
import { messengerApi, type MsMessage, type MsUserInput, type MsUserView } from './messenger-api.ts'

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
    setLastInbound: (psid, at) => messengerApi.setLastInbound(psid, at),
    unread: (m) => m.direction === 'out' && m.status !== 'read',
    // The WhatsApp side owns the page's signed-out state; here it is only said.
    onFailure: (err) =>
      err instanceof SandboxError && err.status === 401 ? 'Signed out: sign in to the inbox again, then reload.' : errorText(err),
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

  return { ...player, pageName, start, createUser, sendText, sendImage, quickReply, postback, react }
}

export type MessengerPlayer = ReturnType<typeof createMessengerPlayer>
