// What search reads of a message (issue 15), and how a piece of text breaks into words.
//
// searchTextOf is the rule; migrations/sqlite/0013_search.sql's triggers (and store/search-index.ts) are its SQL twin (they
// fill the index inside the writer's own transaction, so they cannot call JavaScript):
// test/search-text.test.ts stores a message of every type and checks both agree.

export interface SearchableMessage {
  direction: string
  type: string
  text: string | null
  media: unknown
  data: unknown
}

const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Whether a message is searchable: everything but reactions and the team's system lines (notes are searchable). */
export function isSearchable(m: Pick<SearchableMessage, 'direction' | 'type'>): boolean {
  return m.type !== 'reaction' && (m.direction !== 'system' || m.type === 'note')
}

/**
 * The text a message is found by, or null when it is not searchable: its body, caption,
 * reply title, template text or note (`text`, which ingest and the sender already fill
 * per type), its file's name, and a location's name and address when it has no text.
 */
export function searchTextOf(m: SearchableMessage): string | null {
  if (!isSearchable(m)) return null
  const text = m.text ?? ''
  const filename = str(obj(m.media)?.filename)
  const data = obj(m.data)
  const place = m.type === 'location' && text === '' && data ? `${str(data.name)} ${str(data.address)}` : ''
  return `${text} ${filename} ${place}`.trim()
}

/** Lower case without diacritics, as FTS5's `unicode61 remove_diacritics 2` folds a token (São → sao). */
export function foldToken(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
}

export interface Token {
  /** Folded. */
  word: string
  start: number
  end: number
}

/** The words of a text with their places (UTF-16 offsets), split as unicode61 splits them. */
export function tokenize(text: string): Token[] {
  const out: Token[] = []
  for (const m of text.matchAll(/[\p{L}\p{N}\p{M}\p{Co}]+/gu)) {
    const word = foldToken(m[0])
    if (word !== '') out.push({ word, start: m.index, end: m.index + m[0].length })
  }
  return out
}
