// The sandbox's campaign audience (issue 7): the emulator plays every recipient of a
// template message that the customer simulator does not know — an imported contact —
// so a newcomer can run a 1,000-recipient campaign on a laptop and watch it move.
// Each message gets an outcome drawn from configurable shares: failed with a given
// Meta code (131026 undeliverable, 131049 marketing limit, 131050 opted out, …), or
// sent → delivered (share) → read (share of delivered) → replied (share of read),
// with the statuses sent as signed webhooks through Parley's real webhook route, and
// the replies written by a simulated customer (some quoting the campaign message).
// It also counts, per number, how many template messages Meta accepted: the outside
// world's count of who was messaged, which the crash tests compare against.
import { metaError, type Emulator, type EmulatorConfig, type PlayedStatus, type RecipientBehaviour } from './emulator.ts'
import type { SimCustomer, SimMessage } from './emulator-state.ts'

export interface RecipientShares {
  /** Meta error code → share of messages failed with it (the rest are sent). */
  failures: Record<number, number>
  /** Of the messages not failed: delivered to the phone (the rest stay "sent"). */
  delivered: number
  /** Of the delivered: read. */
  read: number
  /** Of the read: answered. */
  replied: number
  /** Of the replies: a quoted reply (the rest write a fresh message). */
  quoted?: number
  /** Of the replies: a stop keyword. */
  stop?: number
}

export interface PlayerOptions {
  /** After delivered, the phone's owner reads within this range (ms). */
  readDelayMs?: [number, number]
  /** After reading, the answer comes within this range (ms). */
  replyDelayMs?: [number, number]
  random?: () => number
}

// The emulator's own titles for the failures a campaign typically meets.
const FAILURE_TEXT: Record<number, { title: string; details: string }> = {
  131026: { title: 'Message undeliverable', details: 'Unable to deliver message.' },
  131049: {
    title: 'This message was not delivered to maintain healthy ecosystem engagement.',
    details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
  },
  131050: {
    title: 'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
    details: 'User has opted out of marketing messages.',
  },
  131047: { title: 'Re-engagement message', details: 'More than 24 hours have passed since the recipient last replied.' },
}

const REPLIES = [
  'Yes please!',
  'How much is it?',
  'Thanks 🙏',
  'Can you tell me more?',
  'Is it available in blue?',
  'Great, I will come by on Saturday',
]

export class RecipientPlayer implements RecipientBehaviour {
  /** Template messages accepted per number (the outside world's count of who was messaged). */
  readonly received = new Map<string, number>()
  readonly outcomes = { failed: {} as Record<number, number>, sent: 0, delivered: 0, read: 0, replied: 0 }
  /** Replies written so far (`outcomes.replied` counts those decided, some still to come). */
  repliesWritten = 0
  private readonly created = new Set<string>()
  private readonly replyPlans = new Map<string, { quote: boolean; stop: boolean }>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly random: () => number
  private stopped = false

  constructor(
    private readonly emulator: Emulator,
    public shares: RecipientShares,
    private readonly opts: PlayerOptions = {},
  ) {
    this.random = opts.random ?? Math.random
  }

  /** Total template messages accepted, and the numbers that got more than one. */
  tally(): { messages: number; recipients: number; twice: string[] } {
    let messages = 0
    const twice: string[] = []
    for (const [phone, n] of this.received) {
      messages += n
      if (n > 1) twice.push(phone)
    }
    return { messages, recipients: this.received.size, twice }
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  statusesFor(m: SimMessage, customer: SimCustomer | undefined, at: number, d: EmulatorConfig['statusDelays']): PlayedStatus[] | undefined {
    // Customers someone scripts in the simulator keep the emulator's usual rules.
    if (m.type !== 'template' || (customer && !this.created.has(customer.phone))) return undefined
    this.received.set(m.customer, (this.received.get(m.customer) ?? 0) + 1)
    const sentAt = at + d.sentMs
    let r = this.random()
    for (const [code, share] of Object.entries(this.shares.failures)) {
      if (r < share) {
        const c = Number(code)
        this.outcomes.failed[c] = (this.outcomes.failed[c] ?? 0) + 1
        const text =
          FAILURE_TEXT[c] ??
          (() => {
            const e = metaError(c)
            return { title: e.title, details: e.details ?? e.title }
          })()
        return [{ at: sentAt, status: 'failed', error: { code: c, ...text } }]
      }
      r -= share
    }
    const steps: PlayedStatus[] = [{ at: sentAt, status: 'sent' }]
    if (this.random() >= this.shares.delivered) {
      this.outcomes.sent++
      return steps
    }
    const deliveredAt = at + Math.max(d.sentMs, d.deliveredMs)
    steps.push({ at: deliveredAt, status: 'delivered' })
    if (this.random() >= this.shares.read) {
      this.outcomes.delivered++
      return steps
    }
    const [rmin, rmax] = this.opts.readDelayMs ?? [500, 4000]
    steps.push({ at: deliveredAt + rmin + Math.round(this.random() * (rmax - rmin)), status: 'read' })
    if (this.random() < this.shares.replied) {
      this.outcomes.replied++
      this.replyPlans.set(m.id, { quote: this.random() < (this.shares.quoted ?? 0.5), stop: this.random() < (this.shares.stop ?? 0) })
    } else {
      this.outcomes.read++
    }
    return steps
  }

  afterStatus(m: SimMessage, status: string): void {
    if (status !== 'read' || this.stopped) return
    const plan = this.replyPlans.get(m.id)
    if (!plan) return
    this.replyPlans.delete(m.id)
    const [min, max] = this.opts.replyDelayMs ?? [500, 3000]
    const t = setTimeout(
      () => {
        this.timers.delete(t)
        void this.reply(m, plan).catch(() => undefined)
      },
      min + Math.round(this.random() * (max - min)),
    )
    t.unref()
    this.timers.add(t)
  }

  private async reply(m: SimMessage, plan: { quote: boolean; stop: boolean }): Promise<void> {
    if (this.stopped) return
    if (!this.emulator.customer(m.customer)) {
      this.emulator.createCustomer({ name: `Recipient ${m.customer.slice(-4)}`, phone: m.customer })
    }
    this.created.add(m.customer)
    const text = plan.stop ? 'STOP' : REPLIES[Math.floor(this.random() * REPLIES.length)]!
    await this.emulator.customerSend(m.customer, { type: 'text', text, ...(plan.quote ? { contextId: m.id } : {}) }, m.phoneNumberId)
    this.repliesWritten++
  }
}
