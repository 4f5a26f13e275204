// GET /api/conversations?q= : the inbox's search by contact name or number, over the
// whole inbox (not just the pages a browser happens to have loaded).
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import type { ConversationDTO } from '../src/events/types.ts'

t.test('search by name, by number (any formatting), wildcards literal, with status and paging', async (t) => {
  const s = await startServer(t)
  const people: Array<[string, string]> = [
    ['4915112345678', 'Ana Souza'],
    ['4915187654321', 'Bruno Anand'],
    ['5511999990000', '100%_real'],
    ['5511988887777', 'Carla'],
  ]
  for (const [from, name] of people) t.equal((await s.webhook(textWebhook(from, name, 'hi').payload)).status, 200)
  const { token } = await s.login()
  const search = async (query: string) => {
    const res = await s.get(`/api/conversations?${query}`, token)
    t.equal(res.status, 200, query)
    const body = (await res.json()) as { conversations: ConversationDTO[]; nextCursor: string | null }
    return { names: body.conversations.map((c) => c.contact.name).sort(), nextCursor: body.nextCursor }
  }

  t.same((await search('q=ana')).names, ['Ana Souza', 'Bruno Anand'], 'name, case-insensitive, anywhere in it')
  t.same((await search('q=' + encodeURIComponent('+49 151-123'))).names, ['Ana Souza'], 'number typed with formatting')
  t.same((await search('q=55119')).names, ['100%_real', 'Carla'], 'number prefix')
  t.same((await search('q=' + encodeURIComponent('%'))).names, ['100%_real'], '% is literal, not a wildcard')
  t.same((await search('q=' + encodeURIComponent('_'))).names, ['100%_real'], '_ is literal')
  t.same((await search('q=nobody')).names, [])
  t.same((await search('q=%20%20')).names.length, 4, 'blank query is no filter')
  t.same((await search('q=ana&status=resolved')).names, [], 'combined with the status filter')

  const first = await search('q=a&limit=2')
  t.equal(first.names.length, 2)
  t.ok(first.nextCursor, 'keyset paging works with a query')
  const second = await search(`q=a&limit=2&cursor=${first.nextCursor}`)
  t.same([...first.names, ...second.names].sort(), ['100%_real', 'Ana Souza', 'Bruno Anand', 'Carla'])

  const tooLong = await s.get(`/api/conversations?q=${'x'.repeat(101)}`, token)
  t.equal(tooLong.status, 400)
})
