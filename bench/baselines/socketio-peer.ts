// The peer: a WhatsApp inbox server built the way the naive open-source inboxes build
// theirs (Whaticket-style: contacts/tickets/messages, socket.io rooms per company), at
// Parley's durability: SQLite WAL + synchronous=FULL, 200 only after the commit.
//
//   POST /webhooks/whatsapp → raw body → verify X-Hub-Signature-256 → JSON.parse →
//   one transaction per webhook (find-or-create contact and open ticket, insert message
//   or update its ack) → commit → io.to(`company-1`).emit('appMessage', …) → 200
//
// No replay: a socket that was disconnected during an emit never gets it.
import http from 'node:http'
import { createHmac, timingSafeEqual } from 'node:crypto'
import Database from 'better-sqlite3'
import { Server } from 'socket.io'
import { serve } from '../lib/proc.ts'
import { verifyPeerToken } from '../lib/peer-token.ts'

const file = process.env.PEER_DB_FILE
const secret = process.env.PEER_APP_SECRET
if (!file || !secret) throw new Error('PEER_DB_FILE and PEER_APP_SECRET are required')

const db = new Database(file)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.pragma('foreign_keys = ON')
db.exec(`
CREATE TABLE IF NOT EXISTS contacts (id INTEGER PRIMARY KEY, name TEXT, number TEXT NOT NULL UNIQUE,
  createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, status TEXT NOT NULL, unreadMessages INTEGER NOT NULL DEFAULT 0,
  lastMessage TEXT, contactId INTEGER NOT NULL REFERENCES contacts(id), companyId INTEGER NOT NULL,
  createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_contact ON tickets(contactId, status);
CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, body TEXT, ack INTEGER NOT NULL DEFAULT 0, read INTEGER NOT NULL DEFAULT 0,
  fromMe INTEGER NOT NULL, mediaType TEXT, ticketId INTEGER NOT NULL REFERENCES tickets(id),
  contactId INTEGER REFERENCES contacts(id), dataJson TEXT, createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_ticket ON messages(ticketId, createdAt);
`)

const q = {
  contactByNumber: db.prepare('SELECT * FROM contacts WHERE number = ?'),
  insertContact: db.prepare('INSERT INTO contacts (name, number, createdAt, updatedAt) VALUES (?, ?, ?, ?) RETURNING *'),
  openTicket: db.prepare(`SELECT * FROM tickets WHERE contactId = ? AND status IN ('open', 'pending') ORDER BY id DESC LIMIT 1`),
  insertTicket: db.prepare(
    `INSERT INTO tickets (status, unreadMessages, contactId, companyId, createdAt, updatedAt) VALUES ('pending', 0, ?, 1, ?, ?) RETURNING *`,
  ),
  insertMessage: db.prepare(
    `INSERT OR IGNORE INTO messages (id, body, ack, fromMe, mediaType, ticketId, contactId, dataJson, createdAt, updatedAt)
     VALUES (?, ?, 0, 0, ?, ?, ?, ?, ?, ?) RETURNING *`,
  ),
  touchTicket: db.prepare(
    'UPDATE tickets SET lastMessage = ?, unreadMessages = unreadMessages + 1, updatedAt = ? WHERE id = ? RETURNING *',
  ),
  messageById: db.prepare('SELECT * FROM messages WHERE id = ?'),
  setAck: db.prepare('UPDATE messages SET ack = ?, updatedAt = ? WHERE id = ? AND ack < ? RETURNING *'),
}
const ACK: Record<string, number> = { sent: 1, delivered: 2, read: 3, played: 4, failed: -1 }

type Emit = { action: 'create' | 'update'; message: unknown; ticket?: unknown; contact?: unknown }
type Obj = Record<string, any>

// One webhook, one transaction, one FULL commit.
const handle = db.transaction((payload: Obj): Emit[] => {
  const out: Emit[] = []
  const now = Date.now()
  for (const entry of payload.entry ?? []) {
    for (const change of entry.changes ?? []) {
      const value = change.value ?? {}
      const names = new Map<string, string>((value.contacts ?? []).map((c: Obj) => [c.wa_id, c.profile?.name]))
      for (const m of value.messages ?? []) {
        let contact = q.contactByNumber.get(m.from) as Obj | undefined
        if (!contact) contact = q.insertContact.get(names.get(m.from) ?? m.from, m.from, now, now) as Obj
        let ticket = q.openTicket.get(contact.id) as Obj | undefined
        if (!ticket) ticket = q.insertTicket.get(contact.id, now, now) as Obj
        const body = m.text?.body ?? m[m.type]?.caption ?? ''
        const message = q.insertMessage.get(m.id, body, m.type, ticket.id, contact.id, JSON.stringify(m), now, now) as Obj | undefined
        if (!message) continue
        ticket = q.touchTicket.get(body, now, ticket.id) as Obj
        out.push({ action: 'create', message, ticket, contact })
      }
      for (const s of value.statuses ?? []) {
        const ack = ACK[s.status]
        if (ack === undefined) continue
        const message = q.setAck.get(ack, now, s.id, ack) as Obj | undefined
        if (message) out.push({ action: 'update', message })
      }
    }
  }
  return out
})

function verify(raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false
  const given = Buffer.from(header.slice(7), 'hex')
  const want = createHmac('sha256', secret!).update(raw).digest()
  return given.length === want.length && timingSafeEqual(given, want)
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks/whatsapp') {
    res.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const raw = Buffer.concat(chunks)
    if (!verify(raw, req.headers['x-hub-signature-256'])) {
      res.writeHead(401).end()
      return
    }
    let emits: Emit[]
    try {
      emits = handle.immediate(JSON.parse(raw.toString('utf8')))
    } catch {
      res.writeHead(503).end()
      return
    }
    for (const e of emits) io.to('company-1').emit('appMessage', e)
    res.writeHead(200, { 'content-type': 'text/plain' }).end('EVENT_RECEIVED')
  })
})

const io = new Server(server, { cors: { origin: '*' } })
io.use((socket, next) => {
  const user = verifyPeerToken(socket.handshake.auth?.token)
  if (!user) return next(new Error('unauthorized'))
  socket.data.user = user
  next()
})
io.on('connection', (socket) => {
  void socket.join(`company-${(socket.data.user as { companyId: number }).companyId}`)
})

const rpc = serve(
  {
    streams: () => io.of('/').sockets.size,
    mem: () => {
      globalThis.gc?.()
      const m = process.memoryUsage()
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, streams: io.of('/').sockets.size }
    },
    seedOutbound: (a: { targets: Array<{ wamid: string; to: string }> }) => {
      const now = Date.now()
      let n = 0
      db.transaction(() => {
        for (const t of a.targets) {
          let contact = q.contactByNumber.get(t.to) as Obj | undefined
          if (!contact) contact = q.insertContact.get(t.to, t.to, now, now) as Obj
          let ticket = q.openTicket.get(contact.id) as Obj | undefined
          if (!ticket) ticket = q.insertTicket.get(contact.id, now, now) as Obj
          n += db
            .prepare(
              `INSERT OR IGNORE INTO messages (id, body, ack, fromMe, mediaType, ticketId, contactId, createdAt, updatedAt)
               VALUES (?, 'Your order has shipped', 1, 1, 'chat', ?, ?, ?, ?)`,
            )
            .run(t.wamid, ticket.id, contact.id, now, now).changes
        }
      })()
      return n
    },
  },
  async () => {
    io.close()
    db.close()
  },
)
server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  rpc.ready({ port: typeof addr === 'object' && addr ? addr.port : 0 })
})
