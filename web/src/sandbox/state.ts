// The simulator's state: a factory of signals, with the actions that change it.
// Live updates come from the emulator's change stream; each change refetches what it
// names (the customer list, and the open chat when it is that customer's).
import { batch, computed, signal } from '@preact/signals'
import { sandboxApi, SandboxError, type Customer, type CustomerInput, type Faults, type SandboxInfo, type SimMessage } from './api.ts'

export type Phase = 'loading' | 'ready' | 'signed-out' | 'not-sandbox' | 'offline'

// A chat refetch per change is plenty; bursts of statuses collapse into one.
const REFRESH_DEBOUNCE_MS = 80
const DAY_MS = 24 * 3600_000

export function createSimulator() {
  const phase = signal<Phase>('loading')
  const info = signal<SandboxInfo | null>(null)
  const customers = signal<Customer[]>([])
  const selected = signal<string | null>(null)
  const messages = signal<SimMessage[]>([])
  const faults = signal<Faults | null>(null)
  const flash = signal<string | null>(null)
  const live = signal(false)
  /** The customer reads what arrives while their chat is open (like a phone in hand). */
  const autoRead = signal(true)
  const replyTo = signal<SimMessage | null>(null)
  const sending = signal(false)

  const current = computed(() => customers.value.find((c) => c.phone === selected.value) ?? null)
  const unreadFromBusiness = computed(() =>
    messages.value.filter((m) => m.direction === 'out' && (m.status === 'sent' || m.status === 'delivered') && m.type !== 'reaction'),
  )

  let flashTimer: ReturnType<typeof setTimeout> | undefined
  function say(text: string) {
    flash.value = text
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => (flash.value = null), 5000)
  }

  function fail(err: unknown) {
    if (err instanceof SandboxError && err.status === 401) phase.value = 'signed-out'
    else if (err instanceof SandboxError && err.status === 0) phase.value = 'offline'
    else say(err instanceof Error ? err.message : String(err))
  }

  async function loadCustomers() {
    const { customers: list } = await sandboxApi.customers()
    customers.value = list.sort((a, b) => a.name.localeCompare(b.name))
  }

  async function loadChat() {
    const phone = selected.value
    if (!phone) {
      messages.value = []
      return
    }
    const res = await sandboxApi.messages(phone)
    if (selected.value !== phone) return
    messages.value = res.messages
    maybeRead()
  }

  let reading = false
  /** Blue ticks for the business: only when the chat is open and the page is in view. */
  function maybeRead() {
    const phone = selected.value
    if (!phone || !autoRead.value || reading || document.visibilityState !== 'visible') return
    if (unreadFromBusiness.value.length === 0) return
    reading = true
    sandboxApi
      .read(phone)
      .catch(fail)
      .finally(() => (reading = false))
  }

  let refreshTimer: ReturnType<typeof setTimeout> | undefined
  let chatDirty = false
  function changed(customer: string) {
    if (customer === selected.value) chatDirty = true
    clearTimeout(refreshTimer)
    refreshTimer = setTimeout(() => {
      const withChat = chatDirty
      chatDirty = false
      void Promise.all([loadCustomers(), withChat ? loadChat() : null]).catch(fail)
    }, REFRESH_DEBOUNCE_MS)
  }

  let source: EventSource | null = null
  function connect() {
    source?.close()
    source = new EventSource('/api/sandbox/stream')
    source.addEventListener('open', () => {
      live.value = true
      // Anything missed while disconnected: refetch (the stream has no replay).
      void Promise.all([loadCustomers(), loadChat()]).catch(fail)
    })
    source.addEventListener('change', (e) => {
      try {
        changed((JSON.parse((e as MessageEvent<string>).data) as { customer: string }).customer)
      } catch {
        /* a malformed event is ignored; the next one refetches */
      }
    })
    source.addEventListener('error', () => {
      live.value = false
      // A non-200 answer (signed out) ends an EventSource for good: check why.
      if (source?.readyState === EventSource.CLOSED) {
        sandboxApi.customers().then(() => setTimeout(connect, 2000), fail)
      }
    })
  }

  async function boot() {
    try {
      info.value = await sandboxApi.info()
    } catch (err) {
      phase.value = err instanceof SandboxError && err.status === 404 ? 'not-sandbox' : 'offline'
      return
    }
    try {
      await loadCustomers()
      faults.value = (await sandboxApi.faults()).faults
      const fromHash = decodeURIComponent(location.hash.slice(1))
      const first = customers.value.find((c) => c.phone === fromHash) ?? customers.value[0]
      if (first) await select(first.phone)
      phase.value = 'ready'
      connect()
      document.addEventListener('visibilitychange', maybeRead)
    } catch (err) {
      fail(err)
    }
  }

  async function select(phone: string) {
    batch(() => {
      selected.value = phone
      replyTo.value = null
      messages.value = []
    })
    history.replaceState(null, '', `#${phone}`)
    await loadChat().catch(fail)
  }

  async function createCustomer(name: string, phone: string) {
    try {
      const { customer } = await sandboxApi.createCustomer(name.trim(), phone.trim() || undefined)
      await loadCustomers()
      await select(customer.phone)
      return true
    } catch (err) {
      fail(err)
      return false
    }
  }

  async function send(input: CustomerInput) {
    const phone = selected.value
    if (!phone) return false
    sending.value = true
    try {
      const { delivered } = await sandboxApi.send(phone, input)
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
    const contextId = replyTo.value?.id
    return send({ type: 'text', text, ...(contextId ? { contextId } : {}) })
  }

  async function sendImage(file: File, caption: string) {
    if (!/^image\/(jpeg|png)$/.test(file.type)) {
      say('WhatsApp takes JPEG or PNG images.')
      return false
    }
    if (file.size > 5 * 1024 * 1024) {
      say('Images are limited to 5 MB on WhatsApp.')
      return false
    }
    const data = await toBase64(file)
    const contextId = replyTo.value?.id
    return send({ type: 'image', data, mimeType: file.type, ...(caption ? { caption } : {}), ...(contextId ? { contextId } : {}) })
  }

  function react(target: SimMessage, emoji: string) {
    return send({ type: 'reaction', reaction: { messageId: target.id, emoji } })
  }

  function tap(target: SimMessage, text: string) {
    return send({ type: target.type === 'interactive' ? 'interactive' : 'button', contextId: target.id, button: { text } })
  }

  async function readNow() {
    const phone = selected.value
    if (phone) await sandboxApi.read(phone).catch(fail)
  }

  /** Demo aid: as if the customer last wrote a day and an hour ago (only templates get through). */
  async function closeWindow() {
    const phone = selected.value
    if (!phone) return
    await sandboxApi.setLastInbound(phone, Date.now() - DAY_MS - 3600_000).catch(fail)
    await loadCustomers().catch(fail)
  }

  async function setFaults(patch: Partial<Faults>) {
    try {
      faults.value = (await sandboxApi.setFaults(patch)).faults
    } catch (err) {
      fail(err)
    }
  }

  function setAutoRead(on: boolean) {
    autoRead.value = on
    maybeRead()
  }

  return {
    phase,
    info,
    customers,
    selected,
    messages,
    faults,
    flash,
    live,
    autoRead,
    replyTo,
    sending,
    current,
    unreadFromBusiness,
    boot,
    select,
    createCustomer,
    sendText,
    sendImage,
    react,
    tap,
    readNow,
    closeWindow,
    setFaults,
    setAutoRead,
  }
}

export type Simulator = ReturnType<typeof createSimulator>

function toBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''))
    r.onerror = () => reject(new Error('Could not read the file'))
    r.readAsDataURL(file)
  })
}
