// A small RFC 4180 reader for contact imports. No CSV package is installed and the
// project does not add dependencies on a whim (BRIEF: no `npm install`); what imports
// need is small and fully covered by test/csv.test.ts:
//   - a UTF-8 byte order mark is dropped (Excel writes one);
//   - the separator is `,`, `;` (Excel in most of Europe and Latin America) or a tab,
//     detected from the header line, outside quotes;
//   - fields in double quotes may hold separators, line breaks and `""` (one quote);
//   - CRLF, LF and lone CR end records; a trailing line break adds no record;
//   - each record remembers the line it starts on, so a report can say "line 14".
// Lenient where spreadsheets are sloppy: a quote inside an unquoted field is kept as
// text, and text after a closing quote is appended (both are what Excel shows).

export type Separator = ',' | ';' | '\t'

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number
  fields: string[]
}

export interface CsvTable {
  separator: Separator
  records: CsvRecord[]
}

export class CsvError extends Error {
  override name = 'CsvError'
}

const CANDIDATES: Separator[] = [',', ';', '\t']

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/** The separator that splits the first line into the most fields (ties: `,` then `;`). */
export function detectSeparator(text: string): Separator {
  const counts = new Map<Separator, number>(CANDIDATES.map((c) => [c, 0]))
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '"') quoted = !quoted
    else if (!quoted && (ch === '\n' || ch === '\r')) break
    else if (!quoted && counts.has(ch as Separator)) counts.set(ch as Separator, counts.get(ch as Separator)! + 1)
  }
  let best: Separator = ','
  for (const c of CANDIDATES) if (counts.get(c)! > counts.get(best)!) best = c
  return best
}

export interface ParseOptions {
  separator?: Separator
  /** Refuse files with more records than this (a bound on memory and time). */
  maxRecords?: number
  /** Refuse a single field longer than this (an unclosed quote swallowing the file). */
  maxFieldLength?: number
}

export function parseCsv(input: string, opts: ParseOptions = {}): CsvTable {
  const text = stripBom(input)
  const sep = opts.separator ?? detectSeparator(text)
  const maxRecords = opts.maxRecords ?? Infinity
  const maxField = opts.maxFieldLength ?? 64 * 1024
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let line = 1
  let recordLine = 1
  let i = 0
  const n = text.length
  // Whether the current record has any content yet (a bare line break is not a record).
  let started = false

  const endField = () => {
    if (field.length > maxField) throw new CsvError(`A field starting on line ${recordLine} is longer than ${maxField} characters`)
    fields.push(field)
    field = ''
  }
  const endRecord = () => {
    endField()
    records.push({ line: recordLine, fields })
    if (records.length > maxRecords) throw new CsvError(`The file has more than ${maxRecords} rows`)
    fields = []
    started = false
  }

  while (i < n) {
    const ch = text[i]!
    if (!started) {
      started = true
      recordLine = line
    }
    if (ch === '"' && field === '') {
      // A quoted field (a quote opens one only at the start of a field): read to the
      // closing quote; "" is one quote.
      const startLine = line
      i++
      for (;;) {
        if (i >= n) throw new CsvError(`A quoted field starting on line ${startLine} is never closed`)
        const c = text[i]!
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"'
            i += 2
            continue
          }
          i++
          break
        }
        if (c === '\r') {
          // CRLF inside quotes is one line break, kept as \n.
          field += '\n'
          line++
          i += text[i + 1] === '\n' ? 2 : 1
          continue
        }
        if (c === '\n') line++
        field += c
        i++
        if (field.length > maxField) throw new CsvError(`A field starting on line ${startLine} is longer than ${maxField} characters`)
      }
      continue
    }
    if (ch === sep) {
      endField()
      i++
      continue
    }
    if (ch === '\r' || ch === '\n') {
      endRecord()
      line++
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1
      continue
    }
    field += ch
    i++
  }
  if (started) endRecord()
  return { separator: sep, records }
}

/** One CSV cell as RFC 4180 writes it, with spreadsheet formula injection defused. */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  let s = String(value)
  // OWASP CSV injection: a cell starting with = + - @ (or tab/CR) runs as a formula in
  // Excel and Sheets. Customer names are attacker-controlled; a leading ' makes it text.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function csvLine(values: Array<string | number | null | undefined>): string {
  return values.map(csvCell).join(',') + '\r\n'
}
