// Contacts over HTTP (issue 7): CSV import with its preview and validation report, then
// search, filters, tags, lists — and every route scoped to the workspace.
import t from 'tap'
import { apiCall, startServer } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'

async function client(t: Parameters<typeof startServer>[0]) {
  const s = await startServer(t)
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  return { s, token, call }
}

// Excel in Germany: BOM, semicolons, quoted fields with the separator and a line break.
const GERMAN = [
  '\ufeffTelefon;Name;Stadt;Tags;Notiz',
  '+49 151 2345 6701;"Müller; Anna";Berlin;vip|newsletter;"zwei',
  'Zeilen"',
  '0151 23456702;Jürgen;Hamburg;vip;',
  '+49 151 2345 6701;Anna again;Berlin;;duplicate of line 2',
  'n/a;Nobody;Köln;;',
  '+49 12;Short;Bonn;;',
  ';;;;',
  '+44 20 7946 0958;"Smith, John";London;"VIP, uk";',
].join('\r\n')

t.test('preview: a validation report before anything is stored', async (t) => {
  const { call } = await client(t)
  const res = await call('POST', '/api/contacts/import/preview', { csv: GERMAN, mapping: { phone: 'Telefon' } })
  t.equal(res.status, 200)
  const r = res.body.report
  t.equal(r.separator, ';')
  t.same(r.columns, ['Telefon', 'Name', 'Stadt', 'Tags', 'Notiz'], 'the BOM is not part of the first header')
  t.same(r.mapping, { phone: 'Telefon', name: 'Name', tags: 'Tags', attributes: ['Stadt', 'Notiz'] })
  t.equal(r.rows, 7)
  t.equal(r.valid, 2, 'two numbers are certain: +49… and +44…')
  t.same(
    r.invalid.map((x: { line: number; reason: string }) => [x.line, x.reason.split(' ')[0]]),
    [
      [4, 'national'],
      [6, 'not'],
      [7, 'too'],
    ],
    'a national number without a default country, a non-number, a short number — by line',
  )
  t.same(r.duplicates, [{ line: 5, phone: '4915123456701', firstLine: 2 }])
  t.same(r.skipped, [{ line: 8, reason: 'empty row' }])
  t.equal(r.invalidCount + r.duplicateCount + r.skippedCount + r.valid, r.rows, 'every row accounted for')
  t.same(r.sample[0], {
    line: 2,
    phone: '4915123456701',
    name: 'Müller; Anna',
    tags: ['vip', 'newsletter'],
    attributes: { Stadt: 'Berlin', Notiz: 'zwei\nZeilen' },
    existing: false,
  })
  t.same(r.sample[1].tags, ['vip', 'uk'], 'tags split, trimmed and lower-cased')
  t.equal((await call('GET', '/api/contacts')).body.contacts.length, 0, 'a preview stores nothing')

  // With a default country code the national number is certain too.
  const de = await call('POST', '/api/contacts/import/preview', { csv: GERMAN, defaultCountryCode: '49' })
  t.equal(de.body.report.valid, 3)
  t.equal(de.body.report.sample[1].phone, '4915123456702')
})

t.test('import: contacts, tags, attributes and a list; existing contacts are updated, not doubled', async (t) => {
  const { s, token, call } = await client(t)
  const sse = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => sse.close())
  const first = await call('POST', '/api/contacts/import', {
    csv: GERMAN,
    defaultCountryCode: '49',
    tags: ['spring'],
    listName: 'Fair 2026',
  })
  t.equal(first.status, 201)
  const r = first.body.report
  t.equal(r.created, 3)
  t.equal(r.updated, 0)
  t.equal(r.listName, 'Fair 2026')
  await sse.waitFor((evs) => evs.some((e) => e.event === 'contacts.imported'))
  t.same(sse.data('contacts.imported'), [{ listId: r.listId, created: 3, updated: 0 }])

  const all = (await call('GET', '/api/contacts')).body
  t.equal(all.contacts.length, 3)
  t.match(all.eventId, /^[A-Za-z0-9_-]+:\d+$/)
  const anna = all.contacts.find((c: { phone: string }) => c.phone === '4915123456701')
  t.same(anna.tags, ['newsletter', 'spring', 'vip'])
  t.same(anna.attributes, { Stadt: 'Berlin', Notiz: 'zwei\nZeilen' })
  t.equal(anna.optOut, null)

  // Again, with a changed name and a new column: one contact, updated and merged.
  const again = await call('POST', '/api/contacts/import', {
    csv: 'phone,name,plan\n+4915123456701,Anna Müller,gold\n+15550001234,New One,\n',
  })
  t.equal(again.body.report.created, 1)
  t.equal(again.body.report.updated, 1)
  const one = (await call('GET', `/api/contacts/${anna.id}`)).body.contact
  t.equal(one.name, 'Anna Müller')
  t.same(one.attributes, { Stadt: 'Berlin', Notiz: 'zwei\nZeilen', plan: 'gold' })

  // Filters: search by name or digits, tag, list, opt-out.
  const q = async (qs: string) => (await call('GET', `/api/contacts?${qs}`)).body.contacts.map((c: { name: string }) => c.name).sort()
  t.same(await q('q=müller'), ['Anna Müller'])
  t.same(await q('q=%2B49 151 2345 6702'), ['Jürgen'], 'a number matches on its digits')
  t.same(await q('q=100%25'), [], 'LIKE wildcards match literally')
  t.same(await q('tag=VIP'), ['Anna Müller', 'Jürgen', 'Smith, John'])
  t.same(await q(`listId=${r.listId}`), ['Anna Müller', 'Jürgen', 'Smith, John'])
  t.same(await q(`listId=${again.body.report.listId}`), ['Anna Müller', 'New One'])
  const lists = (await call('GET', '/api/contacts/lists')).body.lists
  t.same(
    lists.map((l: { name: string; size: number }) => [l.name, l.size]).sort(),
    [
      ['Fair 2026', 3],
      [lists[0].name, 2],
    ].sort(),
  )
  t.same((await call('GET', '/api/contacts/tags')).body.tags, [
    { tag: 'newsletter', count: 1 },
    { tag: 'spring', count: 3 },
    { tag: 'uk', count: 1 },
    { tag: 'vip', count: 3 },
  ])

  // Paging is keyset: no contact twice, none lost.
  const seen: number[] = []
  let cursor: string | null = null
  do {
    const page: { contacts: { id: number }[]; nextCursor: string | null } = (
      await call('GET', `/api/contacts?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    ).body
    seen.push(...page.contacts.map((c) => c.id))
    cursor = page.nextCursor
  } while (cursor)
  t.equal(seen.length, 4)
  t.equal(new Set(seen).size, 4)

  // Tags by hand, one contact and in bulk.
  const patched = await call('PATCH', `/api/contacts/${anna.id}`, { tags: ['gold', ' Gold '] })
  t.same(patched.body.contact.tags, ['gold'])
  const bulk = await call('POST', '/api/contacts/tags', { contactIds: seen, add: ['q3'], remove: ['vip'] })
  t.equal(bulk.body.updated, 4)
  t.same(await q('tag=vip'), [])
  t.equal((await q('tag=q3')).length, 4)
})

t.test('refusals: no phone column, an unclosed quote, nothing valid, foreign workspace ids', async (t) => {
  const { call } = await client(t)
  const noPhone = await call('POST', '/api/contacts/import/preview', { csv: 'name,city\nAnna,Berlin\n' })
  t.equal(noPhone.status, 400)
  t.equal(noPhone.body.error.code, 'CSV_INVALID')
  t.match(noPhone.body.error.message, /No phone column/)
  const unclosed = await call('POST', '/api/contacts/import/preview', { csv: 'phone,name\n+15550001111,"Anna\n' })
  t.equal(unclosed.status, 400)
  t.match(unclosed.body.error.message, /line 2/)
  const missing = await call('POST', '/api/contacts/import/preview', { csv: 'phone\n+15550001111\n', mapping: { phone: 'Mobile' } })
  t.match(missing.body.error.message, /"Mobile" is not in the file/)
  const none = await call('POST', '/api/contacts/import', { csv: 'phone\nabc\n' })
  t.equal(none.status, 400)
  t.match(none.body.error.message, /nothing was imported/)
  t.equal((await call('GET', '/api/contacts/999999')).status, 404)
  t.equal((await call('POST', '/api/contacts/999999/opt-out', { optedOut: true })).status, 404)
  t.equal((await call('POST', '/api/contacts', { phone: '12' })).status, 400)
})

t.test('a large import: 10,000 rows in one request, every row accounted for', async (t) => {
  const { call } = await client(t)
  const lines = ['phone,name,tier']
  for (let i = 0; i < 10_000; i++) lines.push(`+1555${String(1_000_000 + i)},Customer ${i},${i % 3 === 0 ? 'gold' : 'silver'}`)
  lines.push('+15551000000,Duplicate of the first,gold')
  const res = await call('POST', '/api/contacts/import', { csv: lines.join('\n'), tags: ['bulk'] })
  t.equal(res.status, 201)
  t.equal(res.body.report.created, 10_000)
  t.equal(res.body.report.duplicateCount, 1)
  t.equal((await call('GET', '/api/contacts/tags')).body.tags[0].count, 10_000)
})
