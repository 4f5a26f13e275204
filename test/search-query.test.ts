// The search language's parser (issue 15), pure: what each input means, the FTS5 MATCH it
// builds (every word quoted: nothing typed is read as FTS5 syntax), and the sentences a
// person gets for what cannot be read.
import t from 'tap'
import { hasMessageFilters, matchExpression, parseQuery, phoneDigits, type ParsedQuery } from '../src/domain/search/query.ts'
import { snippetOf } from '../src/domain/search/snippet.ts'

const ok = (q: string): ParsedQuery => {
  const r = parseQuery(q)
  if (!r.ok) throw new Error(`${q}: ${r.message}`)
  return r.query
}
const bad = (q: string): string => {
  const r = parseQuery(q)
  if (r.ok) throw new Error(`${q} parsed`)
  return r.message
}

t.test('words, phrases and the last word as a prefix', async (t) => {
  t.same(ok('blue sofa').terms, [
    { kind: 'word', text: 'blue', prefix: false },
    { kind: 'word', text: 'sofa', prefix: true },
  ])
  t.equal(matchExpression(ok('blue sofa').terms), '"blue" AND "sofa"*')
  t.equal(matchExpression(ok('"blue sofa" cheap').terms), '"blue sofa" AND "cheap"*')
  t.equal(matchExpression(ok('cheap "blue sofa"').terms), '"cheap" AND "blue sofa"', 'a phrase last is not a prefix')
  t.equal(matchExpression(ok('sofa OR NEAR(x)').terms), '"sofa" AND "OR" AND "NEAR(x)"*', 'operators are words')
  t.equal(matchExpression(ok('a"b"').terms), '"a" AND "b"', 'a quote inside a word starts a phrase')
  t.same(ok('!!! sofa ---').terms.length, 1, 'words without letters or digits are left out')
  t.equal(matchExpression([]), null)
})

t.test('filters', async (t) => {
  t.same(ok('from:customer').filters, { from: { kind: 'customer' } })
  t.same(ok('FROM:Agent').filters, { from: { kind: 'agent' } })
  t.same(ok('from:"Ana Silva" x').filters, { from: { kind: 'agentName', name: 'Ana Silva' } })
  t.same(ok('in:Sales label:vip').filters, { channel: 'Sales', label: 'vip' })
  t.same(ok('assignee:me').filters, { assignee: { kind: 'me' } })
  t.same(ok('assignee:NONE').filters, { assignee: { kind: 'none' } })
  t.same(ok('assignee:ana').filters, { assignee: { kind: 'name', name: 'ana' } })
  t.same(ok('status:Snoozed').filters, { status: 'snoozed' })
  t.same(ok('after:2026-03-01 before:2026-04-01').filters, { after: Date.UTC(2026, 2, 1), before: Date.UTC(2026, 3, 1) })
  t.ok(hasMessageFilters(ok('x from:customer').filters))
  t.notOk(hasMessageFilters(ok('x status:open label:a').filters))
  t.same(ok('10:30 meeting').terms[0], { kind: 'word', text: '10:30', prefix: false }, 'a time is a word')
  t.same(ok('"http://x.y"').terms[0], { kind: 'phrase', text: 'http://x.y' }, 'quoted text with a colon is text')
})

t.test('what cannot be read, in words', async (t) => {
  t.match(bad('"open'), /quote is not closed/)
  t.match(bad('x from:"Ana'), /quote is not closed/)
  t.match(bad('colour:red'), /"colour:" is not a filter/)
  t.match(bad('http://example.com'), /"http:" is not a filter.*quotes/)
  t.match(bad('before:2026-02-30'), /YYYY-MM-DD/)
  t.match(bad('after:03/01/2026'), /YYYY-MM-DD/)
  t.match(bad('status:done'), /status: is one of/)
  t.match(bad('label:'), /label: needs a value/)
  t.match(bad('label:""'), /label: needs a value/)
  t.match(bad(''), /Type a word/)
  t.match(bad('in:a in:b'), /in: only once/)
  t.match(bad('after:2026-03-02 before:2026-03-01'), /after: must be/)
  t.match(bad(Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ')), /at most 16/)
})

t.test('phone digits', async (t) => {
  t.equal(phoneDigits(ok('+55 (11) 98765-43').terms), '55119876543')
  t.equal(phoneDigits(ok('98').terms), null, 'fewer than 3 digits')
  t.equal(phoneDigits(ok('98765 sofa').terms), null, 'not only numbers')
})

t.test('snippets: plain text, ranges on folded words, a window around the first match', async (t) => {
  const q = ok('sao paulo').terms
  t.same(snippetOf('Loja em São Paulo!', q), {
    snippet: 'Loja em São Paulo!',
    highlights: [
      [8, 11],
      [12, 17],
    ],
  })
  const long = `${'intro words '.repeat(30)}the São Paulo store ${'tail words '.repeat(30)}`
  const s = snippetOf(long, q)
  t.ok(s.snippet.startsWith('…') && s.snippet.endsWith('…'))
  t.same(
    s.highlights.map(([a, b]) => s.snippet.slice(a, b)),
    ['São', 'Paulo'],
  )
  const p = snippetOf('a blue sofa and a sofa that is blue', ok('"blue sofa"').terms)
  t.same(
    p.highlights,
    [
      [2, 6],
      [7, 11],
    ],
    'a phrase lights up only where its words follow each other',
  )
  t.same(snippetOf('<b>x</b> chairs', ok('chair').terms), { snippet: '<b>x</b> chairs', highlights: [[9, 15]] })
})
