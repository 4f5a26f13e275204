// The Messenger player's state: simulated Messenger users of the sandbox Page, the open
// thread, and the actions a user takes (text, image, quick reply, reply, reaction,
// postback, read). Live through the emulator's Messenger change stream, like the
// WhatsApp side (state.ts): each change refetches what it names.
import { batch, computed, signal } from '@preact/signals'
import { SandboxError } from './api.ts'
import { messengerApi, type MsMessage, type MsUserInput, type MsUserView } from './messenger-api.ts'

const REFRESH_DEBOUNCE_MS = 80
const DAY_MS = 24 * 3600_000

export function createMessengerPlayer() {
  const started = signal(false)
  const pageName = signal<string | null>(null)
  const users = signal<MsUserView[]>([])
  const selected = signal<string | null>(null)
  const messages = signal<MsMessage[]>([])
  const flash = signal<string | null>(null)
  const live = signal(false)
  const autoRead = signal(true)
  const replyTo = signal<MsMessage | null>(null)
  const sending = signal(false)

  const current = computed(() => users.value.find((u) => u.psid === selected.value) ?? null)
  const unreadFromPage = computed(() => messages.value.filter((m) => m.direction === 'out' && m.status !== 'read'))

  let flashTimer: ReturnType<typeof setTimeout> | undefined
  function say(text: string) {
    flash.value = text
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => (flash.value = null), 5000)
  }
  function fail(err: unknown) {
    if (err instanceof SandboxError && err.status === 401) say('Signed out: sign in to the inbox again, then reload.')
    else say(err instanceof Error ? err.message : String(err))
  }

  async function loadUsers() {
    const { users: list } = await messengerApi.users()
    users.value = list.sort((a, b) => a.name.localeCompare(b.name))
  }

  async function loadChat() {
    const psid = selected.value
    if (!psid) {
      messages.value = []
      return
    }
    const res = await messengerApi.messages(psid)
    if (selected.value !== psid) return
    messages.value = res.messages
    maybeRead()
  }

  let reading = false
  /** "Seen" for the Page: only when the thread is open and the page is in view. */
  function maybeRead() {
    const psid = selected.value
    if (!psid || !autoRead.value || reading || document.visibilityState !== 'visible') return
    if (unreadFromPage.value.length === 0) return
    reading = true
    messengerApi
      .read(psid)
      .catch(fail)
      .finally(() => (reading = false))
  }

  let refreshTimer: ReturnType<typeof setTimeout> | undefined
  let chatDirty = false
  function changed(psid: string) {
    if (psid === selected.value) chatDirty = true
    clearTimeout(refreshTimer)
    refreshTimer = setTimeout(() => {
      const withChat = chatDirty
      chatDirty = false
      void Promise.all([loadUsers(), withChat ? loadChat() : null]).catch(fail)
    }, REFRESH_DEBOUNCE_MS)
  }

  let source: EventSource | null = null
  function connect() {
    source?.close()
    source = new EventSource(messengerApi.streamUrl)
    source.addEventListener('open', () => {
      live.value = true
      void Promise.all([loadUsers(), loadChat()]).catch(fail)
    })
    source.addEventListener('change', (e) => {
      try {
        changed((JSON.parse((e as MessageEvent<string>).data) as { psid: string }).psid)
      } catch {
        /* a malformed event is ignored; the next one refetches */
      }
    })
    source.addEventListener('error', () => {
      live.value = false
      if (source?.readyState === EventSource.CLOSED) setTimeout(connect, 2000)
    })
  }

  /** Started the first time the player is shown (the WhatsApp side needs none of this). */
  async function start() {
    if (started.value) return
    started.value = true
    try {
      pageName.value = (await messengerApi.info()).pages[0]?.name ?? null
      await loadUsers()
      const first = users.value[0]
      if (first) await select(first.psid)
      connect()
      document.addEventListener('visibilitychange', maybeRead)
    } catch (err) {
      fail(err)
    }
  }

  async function select(psid: string) {
    batch(() => {
      selected.value = psid
      replyTo.value = null
      messages.value = []
    })
    await loadChat().catch(fail)
  }

  async function createUser(name: string) {
    try {
      const { user } = await messengerApi.createUser(name.trim())
      await loadUsers()
      await select(user.psid)
      return true
    } catch (err) {
      fail(err)
      return false
    }
  }

  async function send(input: MsUserInput) {
    const psid = selected.value
    if (!psid) return false
    sending.value = true
    try {
      const { delivered } = await messengerApi.send(psid, input)
      if (!delivered) say('Parley did not take the webhook yet; the sandbox keeps retrying it, as Meta does.')
      replyTo.value = null
      await loadChat()
      return true
    } catch (err) {
      fail(err)
      return false
    } finally {
      sending.value = false
    }
  }

  function sendText(text: string) {
    const target = replyTo.value
    return send(target ? { type: 'reply', text, mid: target.mid } : { type: 'text', text })
  }

  async function sendImage(file: File) {
    if (!/^image\/(jpeg|png|gif|webp)$/.test(file.type)) {
      say('Send a JPEG, PNG, GIF or WebP image.')
      return false
    }
    if (file.size > 5 * 1024 * 1024) {
      say('Keep sandbox images under 5 MB.')
      return false
    }
    return send({ type: 'image', data: await toBase64(file), mimeType: file.type })
  }

  const quickReply = (text: string, payload: string) => send({ type: 'quick_reply', text, payload })
  const postback = (title: string, payload: string) => send({ type: 'postback', title, payload })
  const react = (target: MsMessage, emoji: string | null) =>
    send(emoji ? { type: 'reaction', mid: target.mid, emoji } : { type: 'unreaction', mid: target.mid })

  async function readNow() {
    const psid = selected.value
    if (psid) await messengerApi.read(psid).catch(fail)
  }

  /** Demo aid: as if the user last wrote `days` days (and an hour) ago. */
  async function age(days: number) {
    const psid = selected.value
    if (!psid) return
    await messengerApi.setLastInbound(psid, Date.now() - days * DAY_MS - 3600_000).catch(fail)
    await loadUsers().catch(fail)
  }

  function setAutoRead(on: boolean) {
    autoRead.value = on
    maybeRead()
  }

  return {
    pageName,
    users,
    selected,
    messages,
    flash,
    live,
    autoRead,
    replyTo,
    sending,
    current,
    unreadFromPage,
    start,
    select,
    createUser,
    sendText,
    sendImage,
    quickReply,
    postback,
    react,
    readNow,
    age,
    setAutoRead,
  }
}

export type MessengerPlayer = ReturnType<typeof createMessengerPlayer>

function toBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''))
    r.onerror = () => reject(new Error('Could not read the file'))
    r.readAsDataURL(file)
  })
}
