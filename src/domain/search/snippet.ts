// A search result's snippet (issue 15): plain text cut around the first match, with the
// matched words as [start, end) ranges (UTF-16 offsets into `snippet`). The browser renders
// text nodes and <mark> around the ranges, so a customer's `<script>` stays text: no
// markup ever travels inside the snippet.
import type { Term } from './query.ts'
import { type Token, tokenize } from './text.ts'

export interface Snippet {
  snippet: string
  highlights: Array<[number, number]>
}

const WINDOW = 160
const BEFORE = 40

function matches(tokens: Token[], terms: readonly Term[]): Array<[number, number]> {
  const hit = new Set<number>()
  const words = terms.flatMap((t) =>
    t.kind === 'word' ? tokenize(t.text).map((w, i, all) => ({ w: w.word, prefix: t.prefix && i === all.length - 1 })) : [],
  )
  for (const [i, tok] of tokens.entries()) {
    if (words.some((w) => (w.prefix ? tok.word.startsWith(w.w) : tok.word === w.w))) hit.add(i)
  }
  // A phrase lights up where its words follow one another.
  for (const t of terms) {
    if (t.kind !== 'phrase') continue
    const p = tokenize(t.text).map((x) => x.word)
    for (let i = 0; i + p.length <= tokens.length; i++) {
      if (p.every((w, k) => tokens[i + k]!.word === w)) for (let k = 0; k < p.length; k++) hit.add(i + k)
    }
  }
  return [...hit].sort((a, b) => a - b).map((i) => [tokens[i]!.start, tokens[i]!.end])
}

/** The snippet of `text` for the terms: the whole text when short, else a window from a little before the first match. */
export function snippetOf(text: string, terms: readonly Term[]): Snippet {
  const flat = text.replace(/\s+/g, ' ')
  const ranges = matches(tokenize(flat), terms)
  if (flat.length <= WINDOW) return { snippet: flat, highlights: ranges }
  const first = ranges[0]?.[0] ?? 0
  let start = Math.max(0, first - BEFORE)
  // Start at a word's beginning, and never in the middle of a surrogate pair.
  if (start > 0) {
    const space = flat.lastIndexOf(' ', start)
    start = space >= 0 && first - space <= BEFORE + 20 ? space + 1 : start
    if (/[\uDC00-\uDFFF]/.test(flat[start] ?? '')) start++
  }
  let end = Math.min(flat.length, start + WINDOW)
  if (/[\uDC00-\uDFFF]/.test(flat[end] ?? '')) end++
  const head = start > 0 ? '…' : ''
  const tail = end < flat.length ? '…' : ''
  const shift = head.length - start
  const highlights = ranges.filter(([a, b]) => a >= start && b <= end).map(([a, b]): [number, number] => [a + shift, b + shift])
  return { snippet: `${head}${flat.slice(start, end)}${tail}`, highlights }
}
