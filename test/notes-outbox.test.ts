// Issue 14's server-side rule: a note can never enter the outbox. The outbox refuses any
// message that is not outbound (the domain's enqueue and, below it, the repository), and
// a note — with or without a mention — makes not one request to the Graph API emulator.
import t from 'tap'
import { startPair, until } from './helpers/emulator.ts'
import { OutboxRefused } from '../src/domain/sending/outbox.ts'
import { OutboxRepo } from '../src/store/outbox.ts'
import { run } from '../src/store/unit.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const CUSTOMER = '15550002222'

t.test('the outbox refuses anything but an outbound message, in the domain and in the store', async (t) => {
  const p = await startPair(t)
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.say(CUSTOMER, 'hello')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0].id as number
  const note = (await p.call<{ note: MessageDTO }>('POST', `/api/conversations/${conv}/notes`, { text: 'internal only' })).body.note
  const inbound = (await p.call<{ messages: MessageDTO[] }>('GET', `/api/conversations/${conv}/messages`)).body.messages.find(
    (m) => m.direction === 'in',
  )!
  const { sending, store, units } = p.parley.app.services
  const count = async () => (await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM outbox'))!.n

  for (const [label, id] of [
    ['a note', note.id],
    ['a customer message', inbound.id],
  ] as const) {
    const row = (await units.read(() => store.messages.messageRowById(id)))!
    t.throws(
      () => sending.outbox.enqueue(row, 'whatsapp', { to: CUSTOMER, content: { type: 'text', body: row.text ?? '', previewUrl: false } }),
      OutboxRefused,
      `enqueue refuses ${label}`,
    )
    await t.rejects(
      units.transact(() =>
        new OutboxRepo().insert({
          workspaceId: row.workspaceId,
          channelId: row.channelId,
          conversationId: row.conversationId,
          messageId: row.id,
          kind: 'text',
          payload: { text: 'x' },
          priority: 0,
          state: 'queued',
          nextAttemptAt: 0,
          createdAt: 0,
          updatedAt: 0,
        }),
      ),
      /not outbound/,
      `the repository refuses ${label} too`,
    )
  }
  t.equal(await count(), 0, 'nothing entered the outbox')
  // Inside a transaction the refusal rolls the caller's work back.
  await t.rejects(
    units.transact(function* () {
      yield* run("UPDATE messages SET text = 'changed' WHERE id = ?", [note.id])
      return yield* sending.outbox.enqueue((yield* store.messages.messageRowById(note.id))!, 'whatsapp', {
        to: CUSTOMER,
        content: { type: 'text', body: 'x', previewUrl: false },
      })
    }),
    OutboxRefused,
  )
  t.equal((await units.read(() => store.messages.messageRowById(note.id)))!.text, 'internal only', 'rolled back with the refusal')
})

t.test('a note, and a note with a mention, never reach the Graph API emulator', async (t) => {
  const p = await startPair(t)
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.say(CUSTOMER, 'is my order on its way?')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0].id as number
  const before = await p.emu.stats()

  t.equal((await p.call('POST', `/api/conversations/${conv}/notes`, { text: 'Refund approved, do not promise a date' })).status, 201)
  t.equal((await p.call('POST', `/api/conversations/${conv}/notes`, { text: '@Admin note to self is fine too' })).status, 201)
  const { auth } = p.parley.app.services
  const ana = await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'ana@example.com',
    name: 'Ana',
    password: 'agent password 1',
    role: 'agent',
  })
  await setMembers(p.parley.app.services, ana.id, await channelIdsOf(p.parley.app.services, await auth.defaultWorkspace()))
  t.equal((await p.call('POST', `/api/conversations/${conv}/notes`, { text: '@Ana please call her', mentions: [ana.id] })).status, 201)
  t.equal((await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM mentions'))!.n, 1)

  // Then a real reply: the outbox sends in order, so once the emulator has it, anything
  // queued before it would have been sent already — and exactly one request arrived.
  const reply = await p.call('POST', `/api/conversations/${conv}/messages`, { text: 'It ships today.', clientMessageId: 'after-notes' })
  t.equal(reply.status, 202)
  await until(async () => (await p.emu.messages(CUSTOMER)).some((m) => m.direction === 'out'), 'the reply at the emulator')
  const after = await p.emu.stats()
  t.equal(after.sendRequests - before.sendRequests, 1, 'one send request: the reply, never a note')
  const outbound = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
  t.same(
    outbound.map((m) => m.text),
    ['It ships today.'],
    'the customer’s phone has the reply and never a note',
  )
  t.equal((await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM outbox'))!.n, 1, 'one outbox row: the reply')
})
