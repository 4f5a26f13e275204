// The emulator's own world — Meta's side of the wire: simulated customers, what each
// sent and received, uploaded media. Separate from Parley's database on purpose (it is
// the outside world); kept in a JSON file so the sandbox survives a restart, with
// media bytes in files beside it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { StateFile } from './state-file.ts'
import path from 'node:path'

export interface SimCustomer {
  /** wa_id: digits only. */
  phone: string
  name: string
  createdAt: number
  /** Opens the 24-hour window; null: the customer never wrote. */
  lastInboundAt: number | null
}

export type SimStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed'

export interface SimMessage {
  /** wamid */
  id: string
  /** in: customer → business; out: business → customer. */
  direction: 'in' | 'out'
  phoneNumberId: string
  customer: string
  type: string
  text: string | null
  media: { id: string; mimeType: string; filename: string | null } | null
  /** The wamid this one quotes, a button belongs to, or a reaction targets. */
  contextId: string | null
  reaction: { messageId: string; emoji: string } | null
  /** Template name and language for template sends; button payload for taps. */
  extra: Record<string, unknown> | null
  timestamp: number
  // Outbound only:
  status: SimStatus | null
  error: { code: number; title: string } | null
  callbackData: string | null
  // Inbound only: the business marked it read (blue ticks on the customer's side).
  readByBusiness: boolean
}

export interface SimMedia {
  id: string
  mimeType: string
  filename: string | null
  sha256: string
  size: number
  createdAt: number
}

export interface PendingWebhook {
  id: number
  body: string
  attempts: number
  nextAt: number
  /** Human-readable summary for the simulator and the logs. */
  label: string
}

interface Persisted {
  customers: SimCustomer[]
  messages: SimMessage[]
  media: SimMedia[]
  webhooks: PendingWebhook[]
  webhookSeq: number
}

// A demo sandbox, not an archive: the oldest messages go beyond this.
const MAX_MESSAGES = 5000
// Debounce: many changes in a burst become one write.

export class EmulatorState {
  customers = new Map<string, SimCustomer>()
  messages: SimMessage[] = []
  byId = new Map<string, SimMessage>()
  media = new Map<string, SimMedia>()
  private mediaBytes = new Map<string, Buffer>()
  webhooks: PendingWebhook[] = []
  webhookSeq = 0
  private readonly stateFile: StateFile<Persisted>

  constructor(private readonly dir?: string) {
    this.stateFile = new StateFile(dir ? path.join(dir, 'state.json') : undefined, () => ({
      customers: [...this.customers.values()],
      messages: this.messages,
      media: [...this.media.values()],
      webhooks: this.webhooks,
      webhookSeq: this.webhookSeq,
    }))
    if (!dir) return
    mkdirSync(path.join(dir, 'media'), { recursive: true, mode: 0o700 })
    const p = this.stateFile.read()
    if (!p) return
    for (const c of p.customers ?? []) this.customers.set(c.phone, c)
    for (const m of p.messages ?? []) this.addMessage(m, false)
    for (const m of p.media ?? []) this.media.set(m.id, m)
    this.webhooks = p.webhooks ?? []
    this.webhookSeq = p.webhookSeq ?? 0
  }

  addMessage(m: SimMessage, save = true): void {
    this.messages.push(m)
    this.byId.set(m.id, m)
    if (this.messages.length > MAX_MESSAGES) {
      for (const old of this.messages.splice(0, this.messages.length - MAX_MESSAGES)) this.byId.delete(old.id)
    }
    if (save) this.changed()
  }

  putMedia(meta: SimMedia, bytes: Buffer): void {
    this.media.set(meta.id, meta)
    if (this.dir) writeFileSync(path.join(this.dir, 'media', meta.id), bytes, { mode: 0o600 })
    else this.mediaBytes.set(meta.id, bytes)
    this.changed()
  }

  mediaData(id: string): Buffer | undefined {
    if (!this.media.has(id)) return undefined
    if (!this.dir) return this.mediaBytes.get(id)
    try {
      return readFileSync(path.join(this.dir, 'media', id))
    } catch {
      return undefined
    }
  }

  changed(): void {
    this.stateFile.changed()
  }

  save(): void {
    this.stateFile.save()
  }
}
