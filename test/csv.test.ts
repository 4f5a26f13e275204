// The RFC 4180 reader behind contact imports, and the phone rule (issue 7).
import t from 'tap'
import { csvCell, csvLine, detectSeparator, parseCsv } from '../src/domain/contacts/csv.ts'
import { normalizePhone } from '../src/domain/contacts/contacts-phone.ts'

const rows = (text: string) => parseCsv(text).records.map((r) => r.fields)

t.test('plain, CRLF, LF and lone CR line ends; a trailing break adds no row', async (t) => {
  t.same(rows('a,b\r\n1,2\r\n'), [
    ['a', 'b'],
    ['1', '2'],
  ])
  t.same(rows('a,b\n1,2'), [
    ['a', 'b'],
    ['1', '2'],
  ])
  t.same(rows('a,b\r1,2\r'), [
    ['a', 'b'],
    ['1', '2'],
  ])
  t.same(rows('a,,c\n,,\n'), [
    ['a', '', 'c'],
    ['', '', ''],
  ])
  t.same(rows(''), [])
})

t.test('a UTF-8 byte order mark is dropped (Excel writes one)', async (t) => {
  const table = parseCsv('\ufeffphone;name\n+4915123;Jürgen\n')
  t.same(table.records[0]!.fields, ['phone', 'name'], 'the first header is "phone", not "\\ufeffphone"')
  t.equal(table.separator, ';')
})

t.test('the separator is detected from the header, outside quotes', async (t) => {
  t.equal(detectSeparator('phone;name;city\n'), ';')
  t.equal(detectSeparator('phone,name\n'), ',')
  t.equal(detectSeparator('phone\tname\n'), '\t')
  t.equal(detectSeparator('"a;b;c",d\n'), ',', 'semicolons inside quotes do not count')
  t.equal(detectSeparator('phone\n'), ',', 'one column: the default')
  t.same(rows('phone;name\n"+49 151";"Müller, Anna"\n'), [
    ['phone', 'name'],
    ['+49 151', 'Müller, Anna'],
  ])
})

t.test('quoted fields hold separators, line breaks and "" quotes', async (t) => {
  const table = parseCsv('phone,note,name\n+1555,"line one\r\nline two","Say ""hi"", please"\n+1556,"a,b",x\n')
  t.same(
    table.records.map((r) => r.fields),
    [
      ['phone', 'note', 'name'],
      ['+1555', 'line one\nline two', 'Say "hi", please'],
      ['+1556', 'a,b', 'x'],
    ],
  )
  t.same(
    table.records.map((r) => r.line),
    [1, 2, 4],
    'each record knows the line it starts on (the quoted break moves the next one down)',
  )
  t.same(rows('"",""\n'), [['', '']], 'empty quoted fields')
})

t.test('sloppy spreadsheets: a quote inside an unquoted field is text; text after a closing quote is kept', async (t) => {
  t.same(rows('5" screen,a\n'), [['5" screen', 'a']])
  t.same(rows('"abc"def,x\n'), [['abcdef', 'x']])
})

t.test('an unclosed quote is an error naming its line, not a swallowed file', async (t) => {
  t.throws(() => parseCsv('a,b\n1,"open\n2,3\n'), { name: 'CsvError' })
  t.throws(() => parseCsv('a,b\n1,"open\n2,3\n'), /line 2/)
  t.throws(() => parseCsv('a\n' + 'x\n'.repeat(11), { maxRecords: 10 }), /more than 10 rows/)
  t.throws(() => parseCsv(`a\n"${'x'.repeat(100)}"\n`, { maxFieldLength: 50 }), /longer than 50/)
})

t.test('writing: RFC 4180 quoting and spreadsheet formulas defused', async (t) => {
  t.equal(csvCell('plain'), 'plain')
  t.equal(csvCell('a,b'), '"a,b"')
  t.equal(csvCell('say "hi"'), '"say ""hi"""')
  t.equal(csvCell('two\nlines'), '"two\nlines"')
  t.equal(csvCell('=HYPERLINK("http://evil")'), `"'=HYPERLINK(""http://evil"")"`)
  t.equal(csvCell('@SUM(A1)'), "'@SUM(A1)")
  t.equal(csvCell('-2+3'), "'-2+3")
  t.equal(csvCell(-5), '-5', 'numbers are numbers')
  t.equal(csvCell(null), '')
  t.equal(csvLine(['a', 1, null]), 'a,1,\r\n')
  // What is written reads back the same.
  const back = parseCsv(csvLine(['x', 'a,b', 'q"uote', 'new\nline'])).records[0]!.fields
  t.same(back, ['x', 'a,b', 'q"uote', 'new\nline'])
})

t.test('phone numbers: E.164 digits only when the country code is certain', async (t) => {
  const ok = (raw: string, digits: string, cc?: string) => t.same(normalizePhone(raw, cc), { ok: true, digits }, `${raw} → ${digits}`)
  const bad = (raw: string, why: RegExp, cc?: string) => {
    const r = normalizePhone(raw, cc)
    t.equal(r.ok, false, `${raw} is refused`)
    if (!r.ok) t.match(r.reason, why)
  }
  ok('+49 (151) 234-567 89', '4915123456789')
  ok('0049 151 23456789', '4915123456789')
  ok('+1.555.000.1111', '15550001111')
  ok('4915123456789', '4915123456789')
  ok('0151 23456789', '4915123456789', '49')
  ok('0151 23456789', '4915123456789', '+49')
  ok('15123456789', '4915123456789', '49')
  ok('4915123456789', '4915123456789', '49')
  ok('+44 20 7946 0958', '442079460958', '49')
  bad('0151 23456789', /national number/)
  bad('5551234567', /no country code/)
  bad('+49 151 CALL ME', /not a phone number/)
  bad('+49 151 234 ext 5', /not a phone number/)
  bad('+0049151', /never starts with 0/)
  bad('+49 12', /too short/)
  bad('+1234567890123456', /too long/)
  bad('   ', /empty/)
  bad('N/A', /not a phone number/)
})
