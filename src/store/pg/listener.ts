// A LISTEN connection of its own (issue 17), outside the pool and any pooler: the event
// log's commit hints and the ephemeral presence frames each hold one. When it drops it is
// reopened with a growing pause; the caller hears of each reconnection, since whatever was
// NOTIFYed while it was down is gone.
import type pg from 'pg'
import { pgClient } from './db.ts'

export interface ListenerEvents {
  /** A NOTIFY on the channel, its payload as sent (anyone with access may NOTIFY: check it). */
  notified(payload: string | undefined): void
  /** The connection came back after a drop. */
  reconnected?(): void
  /** The connection dropped with an error, or could not be reopened (it keeps trying). */
  onError(err: unknown, when: 'dropped' | 'reopening'): void
}

export class PgListener {
  connected = false
  /** How many times the connection came back after a drop. */
  reconnects = 0
  private client: pg.Client | undefined
  private stopped = false
  private retryMs = 100
  private retryTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly url: string,
    /** The connection's application_name (pg_stat_activity shows whose it is). */
    private readonly name: string,
    /** A fixed identifier of Parley's, never user input: LISTEN takes no parameter. */
    private readonly channel: string,
    private readonly on: ListenerEvents,
  ) {}

  async start(): Promise<void> {
    await this.connect()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    const c = this.client
    this.client = undefined
    this.connected = false
    await c?.end().catch(() => {})
  }

  private async connect(): Promise<void> {
    const client = pgClient(this.url, this.name)
    let live = false
    let dead = false
    // A dropped connection reports an error, an end, or both: one reconnection either way.
    const dropped = (err?: unknown) => {
      if (dead) return
      dead = true
      client.end().catch(() => {})
      if (!live) return // still opening: connect() fails and its caller retries
      if (this.client === client) {
        this.client = undefined
        this.connected = false
      }
      if (err) this.on.onError(err, 'dropped')
      this.schedule()
    }
    client.on('error', dropped)
    client.on('end', () => dropped())
    client.on('notification', (m) => {
      if (m.channel === this.channel) this.on.notified(m.payload)
    })
    await client.connect()
    await client.query(`LISTEN ${this.channel}`)
    if (dead) throw new Error(`the listening connection (${this.channel}) closed while it was opening`)
    live = true
    this.client = client
    this.connected = true
    this.retryMs = 100
  }

  private schedule(): void {
    if (this.stopped) return
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.reconnects++
          this.on.reconnected?.()
        },
        (err) => {
          this.on.onError(err, 'reopening')
          this.retryMs = Math.min(this.retryMs * 2, 5000)
          this.schedule()
        },
      )
    }, this.retryMs)
    this.retryTimer.unref()
  }
}
