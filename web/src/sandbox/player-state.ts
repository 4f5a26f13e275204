// What both customer players (WhatsApp's and Messenger's) share: the people played, the
// open thread, sending as the person, "read" for the business, and the live change
// stream. Each channel passes a small adapter for what differs (endpoints, which field
// names a person, which messages count as unread) and adds its own actions on top
// (state.ts, messenger-state.ts).
import { batch, computed, signal } from '@preact/signals'

// A chat refetch per change is plenty; bursts of statuses collapse into one.
const REFRESH_DEBOUNCE_MS = 80
// After the emulator's stream closes for good (a non-200 answer), try again this much later.
const RECONNECT_MS = 2000
const FLASH_MS = 5000

export interface ChannelAdapter<Person, Msg, Input> {
  /** The emulator's change stream for this channel. */
  streamUrl: string
  /** The field of a change event that names the person it concerns. */
  changeField: string
  idOf(person: Person): string
  people(): Promise<Person[]>
  messages(id: string): Promise<Msg[]>
  send(id: string, input: Input): Promise<{ delivered: boolean }>
  /** Marks the business's messages read, as the person would by opening the chat. */
  read(id: string): Promise<unknown>
  /** What "read" clears: a business message the person has not read yet. */
  unread(m: Msg): boolean
  onSelect?(id: string): void
  /** Checked before reconnecting a closed stream (a rejection goes to onFailure instead). */
  beforeReconnect?(): Promise<unknown>
  /** Words to flash for a failure, or null when the channel handled it otherwise. */
  onFailure?(err: unknown): string | null
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

export function createPlayer<Person extends { name: string }, Msg, Input>(ch: ChannelAdapter<Person, Msg, Input>) {
  const people = signal<Person[]>([])
  const selected = signal<string | null>(null)
  const messages = signal<Msg[]>([])
  const flash = signal<string | null>(null)
  const live = signal(false)
  /** The person reads what arrives while their chat is open (like a phone in hand). */
  const autoRead = signal(true)
  const replyTo = signal<Msg | null>(null)
  const sending = signal(false)

  const current = computed(() => people.value.find((p) => ch.idOf(p) === selected.value) ?? null)
  const unread = computed(() => messages.value.filter(ch.unread))

  let flashTimer: ReturnType<typeof setTimeout> | undefined
  function say(text: string) {
    flash.value = text
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => (flash.value = null), FLASH_MS)
  }

  function fail(err: unknown) {
    const text = ch.onFailure ? ch.onFailure(err) : errorText(err)
    if (text !== null) say(text)
  }

  async function loadPeople() {
    const list = await ch.people()
    people.value = list.sort((a, b) => a.name.localeCompare(b.name))
  }

  async function loadChat() {
    const id = selected.value
    if (!id) {
      messages.value = []
      return
    }
    const list = await ch.messages(id)
    if (selected.value !== id) return
    messages.value = list
    maybeRead()
  }

  let reading = false
  /** Ticks for the business only when the chat is open and the page is in view. */
  function maybeRead() {
    const id = selected.value
    if (!id || !autoRead.value || reading || document.visibilityState !== 'visible') return
    if (unread.value.length === 0) return
    reading = true
    ch.read(id)
      .catch(fail)
      .finally(() => (reading = false))
  }

  let refreshTimer: ReturnType<typeof setTimeout> | undefined
  let chatDirty = false
  function changed(id: unknown) {
    if (id === selected.value) chatDirty = true
    clearTimeout(refreshTimer)
    refreshTimer = setTimeout(() => {
      const withChat = chatDirty
      chatDirty = false
      void Promise.all([loadPeople(), withChat ? loadChat() : null]).catch(fail)
    }, REFRESH_DEBOUNCE_MS)
  }

  let source: EventSource | null = null
  function connect() {
    source?.close()
    source = new EventSource(ch.streamUrl)
    source.addEventListener('open', () => {
      live.value = true
      // Anything missed while disconnected: refetch (the stream has no replay).
      void Promise.all([loadPeople(), loadChat()]).catch(fail)
    })
    source.addEventListener('change', (e) => {
      try {
        changed((JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>)[ch.changeField])
      } catch {
        /* a malformed event is ignored; the next one refetches */
      }
    })
    source.addEventListener('error', () => {
      live.value = false
      // A non-200 answer (signed out) ends an EventSource for good.
      if (source?.readyState !== EventSource.CLOSED) return
      if (ch.beforeReconnect) ch.beforeReconnect().then(() => setTimeout(connect, RECONNECT_MS), fail)
      else setTimeout(connect, RECONNECT_MS)
    })
  }

  /** Loads the people, opens `preferred` (or the first), then goes live. */
  async function open(preferred?: string) {
    await loadPeople()
    const first = people.value.find((p) => ch.idOf(p) === preferred) ?? people.value[0]
    if (first) await select(ch.idOf(first))
  }

  function goLive() {
    connect()
    document.addEventListener('visibilitychange', maybeRead)
  }

  async function select(id: string) {
    batch(() => {
      selected.value = id
      replyTo.value = null
      messages.value = []
    })
    ch.onSelect?.(id)
    await loadChat().catch(fail)
  }

  /** Adds a person (however the channel creates one) and opens their chat. */
  async function add(create: () => Promise<Person>) {
    try {
      const person = await create()
      await loadPeople()
      await select(ch.idOf(person))
      return true
    } catch (err) {
      fail(err)
      return false
    }
  }

  async function send(input: Input) {
    const id = selected.value
    if (!id) return false
    sending.value = true
    try {
      const { delivered } = await ch.send(id, input)
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

  async function readNow() {
    const id = selected.value
    if (id) await ch.read(id).catch(fail)
  }

  /**
   * Demo aid for the window buttons: the person writes a message dated in the past, as a
   * message Meta delivers late carries its own timestamp. Meta and Parley both count the
   * window from the person's newest message, so this closes it only when they have not
   * written since (issue 11, point 4: no back door, both sides read the same webhook).
   */
  async function writeEarlier(input: Input, stillOpen: (p: Person) => boolean, why: string) {
    if (!selected.value) return false
    // Decide on the emulator's current word, not on a list a change event may not have refreshed yet.
    await loadPeople().catch(fail)
    const person = current.value
    if (!person) return false
    if (stillOpen(person)) {
      say(why)
      return false
    }
    const ok = await send(input)
    if (ok) await loadPeople().catch(fail)
    return ok
  }

  function setAutoRead(on: boolean) {
    autoRead.value = on
    maybeRead()
  }

  return {
    people,
    selected,
    messages,
    flash,
    live,
    autoRead,
    replyTo,
    sending,
    current,
    unread,
    say,
    fail,
    open,
    goLive,
    select,
    add,
    send,
    readNow,
    writeEarlier,
    setAutoRead,
  }
}

/** An image file as the emulator's control API takes it (base64, without the data: prefix). */
export function toBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''))
    r.onerror = () => reject(new Error('Could not read the file'))
    r.readAsDataURL(file)
  })
}
