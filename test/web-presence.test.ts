// The browser's presence state without a browser (issue 14): frames from the stream,
// never yourself, idle, expiry at expiresAt (one timer), a skewed clock, and this tab's
// own signals (typing at most every 3 s, an emptied composer says "viewing", leaving says "idle").
import t from 'tap'
import { createPresence } from '../web/src/state/presence.ts'

const ME = 7
const ANA = { id: 8, name: 'Ana' }
const BEN = { id: 9, name: 'Ben' }

function setup() {
  const sent: Array<[number, string, string | undefined]> = []
  let now = 1_000_000
  const p = createPresence({
    me: () => ME,
    send: async (id, state, mode) => void sent.push([id, state, mode]),
    now: () => now,
  })
  return { p, sent, advance: (ms: number) => (now += ms), at: () => now }
}

t.test('frames: others only, typing first, idle removes, a skewed expiresAt falls back to the state’s own lapse', async (t) => {
  const { p, at } = setup()
  t.teardown(() => p.stop())
  p.apply({ conversationId: 1, user: { id: ME, name: 'Me' }, state: 'typing', expiresAt: at() + 6000 })
  t.same(p.of(1), [], 'never yourself')
  p.apply({ conversationId: 1, user: ANA, state: 'viewing', expiresAt: at() + 10_000 })
  p.apply({ conversationId: 1, user: BEN, state: 'typing', mode: 'note', expiresAt: at() + 6000 })
  t.same(
    p.of(1).map((x) => [x.name, x.state, x.mode]),
    [
      ['Ben', 'typing', 'note'],
      ['Ana', 'viewing', 'reply'],
    ],
  )
  p.apply({ conversationId: 1, user: BEN, state: 'idle', expiresAt: at() })
  t.same(
    p.of(1).map((x) => x.name),
    ['Ana'],
  )
  // A server clock an hour ahead: expiresAt is not believed, the state lasts its own 10 s.
  p.apply({ conversationId: 2, user: ANA, state: 'viewing', expiresAt: at() + 3600_000 })
  t.equal(p.of(2)[0]!.until, at() + 10_000)
  p.apply({ conversationId: 2, user: ANA, state: 'nonsense' } as never)
  t.equal(p.of(2).length, 1, 'a malformed frame changes nothing')
  t.same(p.of(3), [])
})

t.test('a state lapses at its expiresAt without any frame', async (t) => {
  // The real clock here: the one expiry timer fires when the state lapses.
  const p = createPresence({ me: () => ME, send: async () => {} })
  t.teardown(() => p.stop())
  p.apply({ conversationId: 1, user: ANA, state: 'typing', expiresAt: Date.now() + 60 })
  p.apply({ conversationId: 1, user: BEN, state: 'viewing', expiresAt: Date.now() + 5000 })
  t.equal(p.of(1).length, 2)
  const deadline = Date.now() + 2000
  while (p.of(1).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.same(
    p.of(1).map((x) => x.name),
    ['Ben'],
    'Ana’s typing lapsed, Ben’s viewing holds',
  )
})

t.test('this tab’s signals: typing at most every 3 s, an emptied composer says viewing, leaving says idle', async (t) => {
  const { p, sent, advance } = setup()
  t.teardown(() => p.stop())
  const leave = p.view(5)
  t.same(sent.splice(0), [[5, 'viewing', undefined]])
  p.typed(5, 'H')
  p.typed(5, 'He')
  advance(1000)
  p.typed(5, 'Hel')
  t.same(sent.splice(0), [[5, 'typing', 'reply']], 'one typing signal within 3 s')
  advance(3000)
  p.typed(5, 'Hello', 'note')
  t.same(sent.splice(0), [[5, 'typing', 'note']])
  p.typed(5, '')
  t.same(sent.splice(0), [[5, 'viewing', undefined]], 'sent or cleared: viewing at once')
  p.typed(5, '')
  t.same(sent.splice(0), [], 'nothing more while empty')
  leave()
  t.same(sent.splice(0), [[5, 'idle', undefined]])
  // Opening another conversation leaves the first.
  p.view(6)
  p.view(7)
  t.same(sent.splice(0), [
    [6, 'viewing', undefined],
    [6, 'idle', undefined],
    [7, 'viewing', undefined],
  ])
})
