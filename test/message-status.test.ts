// Property test: over every order of sent/delivered/read/failed, with duplicates, the
// final status is the highest reached and never regresses along the way.
import t from 'tap'
import { applyStatus, STATUS_RANK, type StatusState, type StatusUpdate } from '../src/domain/inbox/message-status.ts'

const fresh = (): StatusState => ({
  status: 'sending',
  sentAt: null,
  deliveredAt: null,
  readAt: null,
  failedAt: null,
  errorCode: null,
  errorTitle: null,
  errorDetail: null,
})

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs]
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]))
}

const up = (status: StatusUpdate['status'], timestamp: number): StatusUpdate => ({
  status,
  timestamp,
  error: status === 'failed' ? { code: 131026, title: 'Message undeliverable', detail: 'x' } : null,
})

t.test('sent/delivered/read in every order, with duplicates', async (t) => {
  const base: StatusUpdate['status'][] = ['sent', 'delivered', 'read', 'read', 'delivered', 'sent']
  let checked = 0
  for (const order of permutations(base)) {
    let s = fresh()
    for (const [i, st] of order.entries()) {
      const before = s
      const patch = applyStatus(s, up(st, 1000 + i))
      if (patch) s = { ...s, ...patch }
      if (STATUS_RANK[s.status] < STATUS_RANK[before.status]) t.fail(`regressed ${before.status} → ${s.status} in ${order.join(',')}`)
    }
    if (s.status !== 'read') t.fail(`ended ${s.status} after ${order.join(',')}`)
    if (s.sentAt === null || s.deliveredAt === null || s.readAt === null) t.fail('every time recorded')
    checked++
  }
  t.equal(checked, 720, 'every order checked; none regressed or ended below read')
})

t.test('failed: terminal for an unconfirmed message, ignored after delivery', async (t) => {
  for (const order of permutations<StatusUpdate['status']>(['sent', 'delivered', 'failed'])) {
    let s = fresh()
    for (const [i, st] of order.entries()) {
      const patch = applyStatus(s, up(st, i))
      if (patch) s = { ...s, ...patch }
    }
    const failedBeforeDelivered = order.indexOf('failed') < order.indexOf('delivered')
    t.equal(s.status, failedBeforeDelivered ? 'failed' : 'delivered', order.join(' → '))
    if (s.status === 'failed') t.equal(s.errorCode, 131026)
  }
  let s = fresh()
  s = { ...s, ...applyStatus(s, up('failed', 1))! }
  t.equal(applyStatus(s, up('failed', 2)), null, 'a duplicate failure changes nothing')
})

t.test('duplicates change nothing', async (t) => {
  let s = fresh()
  s = { ...s, ...applyStatus(s, up('delivered', 5))! }
  t.equal(applyStatus(s, up('delivered', 6)), null)
  t.equal(s.deliveredAt, 5, 'the first time is kept')
})
