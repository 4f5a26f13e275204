// kill -9 mid-send. The emulator (Meta) has accepted the message and is holding the
// answer when Parley dies; Parley restarts on the same data dir. Nothing may be sent
// twice: the interrupted send becomes `unknown` and a later status webhook settles it,
// while the message queued behind it goes out exactly once.
import t from 'tap'
import { spawnAgainstEmulator, startEmulator, until } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'

const CUSTOMER = '15550001111'

t.test('a send interrupted by kill -9 is never resent; its status settles it after the restart', async (t) => {
  const emu = await startEmulator(t)
  const parley = await spawnAgainstEmulator(t, emu, 'parley-crash')
  const call = parley.call

  await emu.customer('Maria', CUSTOMER)
  await emu.say(CUSTOMER, 'Hi, anyone there?')
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  const messages = async () => (await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]

  // Meta takes the first reply and holds its answer; statuses wait too.
  await emu.faults({ script: [{ hold: true }], pauseWebhooks: true })
  const a = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'first reply', clientMessageId: 'crash-a' })
  t.equal(a.status, 202)
  await until(async () => (await emu.stats()).held === 1, 'the emulator holds the send')
  // Queued behind it (replies to one customer go one at a time).
  const b = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'second reply', clientMessageId: 'crash-b' })
  t.equal(b.status, 202)

  await parley.kill('SIGKILL')
  await parley.start()

  const afterRestart = await until(async () => {
    const ms = await messages()
    const ma = ms.find((m) => m.id === a.body.message.id)
    const mb = ms.find((m) => m.id === b.body.message.id)
    return ma?.status === 'unknown' && mb?.status === 'sent' ? { ma, mb } : undefined
  }, 'first unknown, second sent')
  t.equal(afterRestart.ma.providerMessageId, null, 'no answer was recorded for the interrupted send')
  t.match(afterRestart.ma.error?.detail, /will not resend/)

  const sent = (await emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
  t.same(
    sent.map((m) => m.text),
    ['first reply', 'second reply'],
    'each reply reached the customer once, in order',
  )
  t.equal((await emu.stats()).sendRequests, 2, 'two send requests in all: nothing was resent')

  // Meta's statuses arrive (they were queued while Parley was down).
  await emu.faults({ pauseWebhooks: false })
  const settled = await until(async () => {
    const ma = (await messages()).find((m) => m.id === a.body.message.id)
    return ma?.status === 'delivered' ? ma : undefined
  }, 'the interrupted send settled by its status')
  t.equal(settled.providerMessageId, sent[0]!.id, 'biz_opaque_callback_data named the outbox row')
  t.equal(settled.error, null)
  t.equal((await emu.stats()).sendRequests, 2)

  // The same clientMessageId after the restart is still the same message.
  const again = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'first reply', clientMessageId: 'crash-a' })
  t.equal(again.body.message.id, a.body.message.id)
  t.equal((await emu.stats()).sendRequests, 2)
})
