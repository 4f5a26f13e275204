// The composer's `/` list (issue 14), pure: when it opens and which replies match.
import t from 'tap'
import { filterCanned, pickerQuery, PICKER_MAX } from '../web/src/state/canned.ts'
import type { CannedReplyDTO } from '../web/src/api/canned.ts'

const reply = (id: number, shortcut: string, text: string): CannedReplyDTO => ({
  id,
  shortcut,
  text,
  shared: true,
  ownerId: null,
  updatedAt: 0,
})
const replies = [
  reply(1, 'thanks', 'Thank you for writing!'),
  reply(2, 'hours', 'We open at 9, {{contact.first_name}}.'),
  reply(3, 'refund-policy', 'Refunds take 5 days.'),
  reply(4, 'bye', 'Thanks again, bye'),
]

t.test('the list opens only for a slash at the very start of a one-line message', async (t) => {
  t.equal(pickerQuery('/'), '')
  t.equal(pickerQuery('/th'), 'th')
  t.equal(pickerQuery('/refund policy'), 'refund policy', 'spaces search the text too')
  t.equal(pickerQuery(' /th'), null)
  t.equal(pickerQuery('see /th'), null)
  t.equal(pickerQuery('/th\nmore'), null)
  t.equal(pickerQuery(''), null)
})

t.test('matches: shortcut prefix, then shortcut, then text; case-insensitive; bounded', async (t) => {
  t.same(
    filterCanned(replies, '').map((r) => r.shortcut),
    ['bye', 'hours', 'refund-policy', 'thanks'],
  )
  t.same(
    filterCanned(replies, 'TH').map((r) => r.shortcut),
    ['thanks', 'bye'],
    'a shortcut starting with it, then a text containing it',
  )
  t.same(
    filterCanned(replies, 'pol').map((r) => r.shortcut),
    ['refund-policy'],
  )
  t.same(
    filterCanned(replies, '5 days').map((r) => r.shortcut),
    ['refund-policy'],
  )
  t.same(filterCanned(replies, 'nothing like it'), [])
  const many = Array.from({ length: 20 }, (_, i) => reply(i, `r${String(i).padStart(2, '0')}`, 'x'))
  t.equal(filterCanned(many, 'r').length, PICKER_MAX)
})
