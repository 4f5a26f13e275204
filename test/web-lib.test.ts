// Pure helpers of the inbox: safe links, reconnect backoff, template filling.
import t from 'tap'
import { linkify, safeHref } from '../web/src/lib/linkify.ts'
import { backoffDelay } from '../web/src/api/stream.ts'
import { fillTemplate } from '../web/src/state/app.ts'
import { parseEventId } from '../web/src/state/event-id.ts'

t.test('linkify: only http(s) becomes a link; everything else stays text', async (t) => {
  t.same(linkify('see https://example.com/a?b=1, ok'), [
    { kind: 'text', text: 'see ' },
    { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
    { kind: 'text', text: ', ok' },
  ])
  t.same(linkify('www.example.org.'), [
    { kind: 'link', text: 'www.example.org', href: 'https://www.example.org/' },
    { kind: 'text', text: '.' },
  ])
  for (const evil of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '<a href="javascript:alert(1)">x</a>',
    '<img src=x onerror=alert(1)>',
    'vbscript:msgbox(1)',
  ]) {
    const segs = linkify(evil)
    t.ok(
      segs.every((s) => s.kind === 'text' || /^https?:/.test(s.href)),
      `no unsafe href from ${evil}`,
    )
    t.equal(segs.map((s) => s.text).join(''), evil, 'the text is kept as it was')
  }
  t.equal(safeHref('javascript:alert(1)'), null)
  t.equal(safeHref('https://x.test/"onmouseover="alert(1)'), 'https://x.test/%22onmouseover=%22alert(1)')
})

t.test('backoff: full jitter between half and all of an exponential step, capped', async (t) => {
  t.equal(
    backoffDelay(0, 500, 20_000, () => 0),
    250,
  )
  t.equal(
    backoffDelay(0, 500, 20_000, () => 1),
    500,
  )
  t.equal(
    backoffDelay(3, 500, 20_000, () => 1),
    4000,
  )
  t.equal(
    backoffDelay(30, 500, 20_000, () => 1),
    20_000,
    'capped',
  )
  t.equal(
    backoffDelay(30, 500, 20_000, () => 0),
    10_000,
  )
})

t.test('template text filled positionally or by name', async (t) => {
  t.equal(fillTemplate('Hi {{1}}, order {{2}} ready', ['Ana', '42']), 'Hi Ana, order 42 ready')
  t.equal(fillTemplate('Hi {{name}}, {{name}}!', ['Ana']), 'Hi Ana, Ana!')
  t.equal(fillTemplate('Hi {{1}}', []), 'Hi {{1}}', 'an empty value leaves the placeholder visible')
})

t.test('event ids', async (t) => {
  t.same(parseEventId('abc:12'), { epoch: 'abc', n: 12 })
  t.equal(parseEventId('abc'), null)
  t.equal(parseEventId(':1'), null)
  t.equal(parseEventId('a:x'), null)
  t.equal(parseEventId(null), null)
})
