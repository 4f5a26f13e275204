// The search box's language (issue 15): words (the last one a prefix), "exact phrases",
// and filters — from:customer|agent|<agent name>, in:<channel>, label:<name>,
// assignee:me|none|<name>, status:open|pending|snoozed|resolved, before:/after:YYYY-MM-DD.
// A filter's value may be quoted (from:"Ana Silva"). Pure: it returns a parsed query or a
// sentence for the person who typed it, and builds the FTS5 MATCH expression from quoted
// strings only, so nothing a person types is ever read as FTS5 syntax.
import { tokenize } from './text.ts'

export type Term = { kind: 'word'; text: string; prefix: boolean } | { kind: 'phrase'; text: string }

export type FromFilter = { kind: 'customer' } | { kind: 'agent' } | { kind: 'agentName'; name: string }
export type AssigneeFilter = { kind: 'me' } | { kind: 'none' } | { kind: 'name'; name: string }
export type StatusFilter = 'open' | 'pending' | 'snoozed' | 'resolved'

export interface SearchFilters {
  from?: FromFilter
  channel?: string
  label?: string
  assignee?: AssigneeFilter
  status?: StatusFilter
  /** Messages before this day began (ms, UTC midnight): `before:` excludes its own day. */
  before?: number
  /** Messages from this day on (ms, UTC midnight): `after:` includes its own day. */
  after?: number
}

export interface ParsedQuery {
  terms: Term[]
  filters: SearchFilters
}

export type ParseResult = { ok: true; query: ParsedQuery } | { ok: false; message: string }

const FILTERS = ['from', 'in', 'label', 'assignee', 'status', 'before', 'after'] as const
type FilterKey = (typeof FILTERS)[number]
const STATUSES: readonly StatusFilter[] = ['open', 'pending', 'snoozed', 'resolved']
const MAX_TERMS = 16

class QueryError extends Error {}

interface RawToken {
  key?: string
  value: string
  quoted: boolean
}

function lex(q: string): RawToken[] {
  const out: RawToken[] = []
  let i = 0
  const readQuoted = (): string => {
    const close = q.indexOf('"', i + 1)
    if (close < 0) throw new QueryError('A quote is not closed: add the closing " or remove the opening one.')
    const value = q.slice(i + 1, close)
    i = close + 1
    return value
  }
  while (i < q.length) {
    if (/\s/.test(q[i]!)) {
      i++
      continue
    }
    if (q[i] === '"') {
      out.push({ value: readQuoted(), quoted: true })
      continue
    }
    let j = i
    while (j < q.length && !/\s/.test(q[j]!) && q[j] !== '"') j++
    const word = q.slice(i, j)
    const colon = word.indexOf(':')
    const key = colon > 0 ? word.slice(0, colon) : ''
    if (/^[a-z]+$/i.test(key)) {
      const lower = key.toLowerCase()
      if (!(FILTERS as readonly string[]).includes(lower)) {
        throw new QueryError(
          `"${key}:" is not a filter. Filters are ${FILTERS.map((f) => `${f}:`).join(', ')}; put text with a colon in quotes.`,
        )
      }
      let value = word.slice(colon + 1)
      i = j
      if (value === '' && q[i] === '"') {
        value = readQuoted()
        out.push({ key: lower, value, quoted: true })
      } else {
        out.push({ key: lower, value, quoted: false })
      }
      if (value.trim() === '') throw new QueryError(`${lower}: needs a value, for example ${example(lower as FilterKey)}.`)
      continue
    }
    out.push({ value: word, quoted: false })
    i = j
  }
  return out
}

function example(key: FilterKey): string {
  switch (key) {
    case 'from':
      return 'from:customer, from:agent or from:"Ana Silva"'
    case 'in':
      return 'in:Sales'
    case 'label':
      return 'label:vip'
    case 'assignee':
      return 'assignee:me, assignee:none or assignee:Ana'
    case 'status':
      return 'status:open'
    case 'before':
    case 'after':
      return `${key}:2026-03-01`
  }
}

/** UTC midnight of a YYYY-MM-DD day that exists, else undefined. */
function dayOf(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (!m) return undefined
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const at = Date.UTC(y, mo - 1, d)
  const back = new Date(at)
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? at : undefined
}

function applyFilter(filters: SearchFilters, key: FilterKey, value: string): void {
  const lower = value.toLowerCase()
  const once = (present: unknown) => {
    if (present !== undefined) throw new QueryError(`Use ${key}: only once.`)
  }
  switch (key) {
    case 'from':
      once(filters.from)
      filters.from =
        lower === 'customer' ? { kind: 'customer' } : lower === 'agent' ? { kind: 'agent' } : { kind: 'agentName', name: value }
      return
    case 'in':
      once(filters.channel)
      filters.channel = value
      return
    case 'label':
      once(filters.label)
      filters.label = value
      return
    case 'assignee':
      once(filters.assignee)
      filters.assignee = lower === 'me' ? { kind: 'me' } : lower === 'none' ? { kind: 'none' } : { kind: 'name', name: value }
      return
    case 'status':
      once(filters.status)
      if (!(STATUSES as readonly string[]).includes(lower)) throw new QueryError(`status: is one of ${STATUSES.join(', ')}.`)
      filters.status = lower as StatusFilter
      return
    case 'before':
    case 'after': {
      once(filters[key])
      const at = dayOf(value)
      if (at === undefined) throw new QueryError(`${key}: takes a date written YYYY-MM-DD, for example ${key}:2026-03-01.`)
      filters[key] = at
      return
    }
  }
}

/** Parses what a person typed; `{ok: false, message}` says what to fix, in words. */
export function parseQuery(q: string): ParseResult {
  try {
    const terms: Term[] = []
    const filters: SearchFilters = {}
    for (const t of lex(q)) {
      if (t.key) applyFilter(filters, t.key as FilterKey, t.value)
      // Words without a letter or digit (a lone "-", "!!!") find nothing and are left out.
      else if (tokenize(t.value).length > 0)
        terms.push(t.quoted ? { kind: 'phrase', text: t.value } : { kind: 'word', text: t.value, prefix: false })
    }
    const last = terms[terms.length - 1]
    if (last?.kind === 'word') last.prefix = true
    if (terms.length > MAX_TERMS) return { ok: false, message: `Search for at most ${MAX_TERMS} words at a time.` }
    if (terms.length === 0 && Object.keys(filters).length === 0) {
      return { ok: false, message: 'Type a word to search for, or a filter such as from:customer or status:open.' }
    }
    if (filters.before !== undefined && filters.after !== undefined && filters.after >= filters.before) {
      return { ok: false, message: 'after: must be a day before before:.' }
    }
    return { ok: true, query: { terms, filters } }
  } catch (err) {
    if (err instanceof QueryError) return { ok: false, message: err.message }
    throw err
  }
}

const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`

/** The FTS5 MATCH expression of the terms (all of them must match), or null without terms. */
export function matchExpression(terms: readonly Term[]): string | null {
  if (terms.length === 0) return null
  return terms.map((t) => (t.kind === 'word' && t.prefix ? `${quote(t.text)}*` : quote(t.text))).join(' AND ')
}

/**
 * The digits of a query made only of number-like words ("+55 11 9876"), for the contacts'
 * phone index (trigram: 3 digits or more), else null.
 */
export function phoneDigits(terms: readonly Term[]): string | null {
  if (terms.length === 0 || !terms.every((t) => /^[+\d\s().-]+$/.test(t.text))) return null
  const digits = terms.map((t) => t.text.replace(/\D/g, '')).join('')
  return digits.length >= 3 ? digits : null
}

/** Whether the filters speak of messages (who wrote it, when) rather than of conversations. */
export function hasMessageFilters(f: SearchFilters): boolean {
  return f.from !== undefined || f.before !== undefined || f.after !== undefined
}
