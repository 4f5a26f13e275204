// The simulator's WhatsApp side: customers of the sandbox number, on the shared player
// (player-state.ts), plus what only WhatsApp has — the page's phase, fault injection,
// contexts (replies, button taps) and reactions as WhatsApp's webhook shapes them.
import { signal } from '@preact/signals'
import { createPlayer, errorText, toBase64 } from './player-state.ts'
import { ApiError } from '../api/client.ts'
import { sandboxApi, type Customer, type CustomerInput, type Faults, type SandboxInfo, type SimMessage } from './api.ts'

// A day and an hour: clearly past the 24-hour window, not near its edge.
const WROTE_EARLIER_MS = 25 * 3600_000

export type Phase = 'loading' | 'ready' | 'signed-out' | 'not-sandbox' | 'offline'

export function createSimulator() {
  const phase = signal<Phase>('loading')
  const info = signal<SandboxInfo | null>(null)
  const faults = signal<Faults | null>(null)

  const player = createPlayer<Customer, SimMessage, CustomerInput>({
    streamUrl: '/api/sandbox/stream',
    changeField: 'customer',
    idOf: (c) => c.phone,
    people: async () => (await sandboxApi.customers()).customers,
    messages: async (phone) => (await sandboxApi.messages(phone)).messages,
    send: (phone, input) => sandboxApi.send(phone, input),
    read: (phone) => sandboxApi.read(phone),
    // Blue ticks: what Meta last reported as sent or delivered (a reaction has no ticks).
    unread: (m) => m.direction === 'out' && (m.status === 'sent' || m.status === 'delivered') && m.type !== 'reaction',
    // The open customer stays in the address, so a reload comes back to them.
    onSelect: (phone) => history.replaceState(null, '', `#${phone}`),
    // Why the stream closed decides what comes next: signed out and offline end the page.
    beforeReconnect: () => sandboxApi.customers(),
    onFailure: (err) => {
      if (err instanceof ApiError && err.status === 401) phase.value = 'signed-out'
      else if (err instanceof ApiError && err.status === 0) phase.value = 'offline'
      else return errorText(err)
      return null
    },
  })

  async function boot() {
    try {
      info.value = await sandboxApi.info()
    } catch (err) {
      phase.value = err instanceof ApiError && err.status === 404 ? 'not-sandbox' : 'offline'
      return
    }
    try {
      faults.value = (await sandboxApi.faults()).faults
      await player.open(decodeURIComponent(location.hash.slice(1)))
      phase.value = 'ready'
      player.goLive()
    } catch (err) {
      player.fail(err)
    }
  }

  const createCustomer = (name: string, phone: string) =>
    player.add(async () => (await sandboxApi.createCustomer(name.trim(), phone.trim() || undefined)).customer)

  function sendText(text: string) {
    const contextId = player.replyTo.value?.id
    return player.send({ type: 'text', text, ...(contextId ? { contextId } : {}) })
  }

  async function sendImage(file: File, caption: string) {
    if (!/^image\/(jpeg|png)$/.test(file.type)) {
      player.say('WhatsApp takes JPEG or PNG images.')
      return false
    }
    if (file.size > 5 * 1024 * 1024) {
      player.say('Images are limited to 5 MB on WhatsApp.')
      return false
    }
    const data = await toBase64(file)
    const contextId = player.replyTo.value?.id
    return player.send({ type: 'image', data, mimeType: file.type, ...(caption ? { caption } : {}), ...(contextId ? { contextId } : {}) })
  }

  function react(target: SimMessage, emoji: string) {
    return player.send({ type: 'reaction', reaction: { messageId: target.id, emoji } })
  }

  function tap(target: SimMessage, text: string) {
    return player.send({ type: target.type === 'interactive' ? 'interactive' : 'button', contextId: target.id, button: { text } })
  }

  /** Demo aid: the customer's message dated 25 hours ago, so only templates get through. */
  const closeWindow = () =>
    player.writeEarlier(
      { type: 'text', text: 'Hello? (written 25 hours ago)', timestamp: Date.now() - WROTE_EARLIER_MS },
      (c) => c.windowOpen,
      'This customer wrote within the last 24 hours, and Meta counts the window from the newest message: it stays open. Add a new customer and press “Wrote 25 h ago” before they write anything else.',
    )

  async function setFaults(patch: Partial<Faults>) {
    try {
      faults.value = (await sandboxApi.setFaults(patch)).faults
    } catch (err) {
      player.fail(err)
    }
  }

  return { ...player, phase, info, faults, boot, createCustomer, sendText, sendImage, react, tap, closeWindow, setFaults }
}

export type Simulator = ReturnType<typeof createSimulator>
