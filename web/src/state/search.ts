// Issue 15: the search over the list — the query typed (debounced), its results a page
// at a time (keyset "more"), and a bad query's message from the server. Signals and the
// actions that fill them (the only caller of api/search.ts); one instance per app,
// created with the first query (SearchResults.tsx, a chunk of its own).
import { batch, signal } from '@preact/signals'
import { ApiError, describeError } from '../api/client.ts'
import { searchApi, type SearchResult } from '../api/search.ts'
import type { App } from './app.ts'
import { focusMessage } from './focus.ts'

// The server is asked once the agent pauses typing.
const DEBOUNCE_MS = 250
// Results per page: a screen or two of snippets.
const PAGE = 30

export type SearchStatus = 'idle' | 'loading' | 'ready' | 'error'

export function createSearch(app: App) {
  const results = signal<SearchResult[]>([])
  const nextCursor = signal<string | null>(null)
  const status = signal<SearchStatus>('idle')
  /** Why there are no results: the server's words for a query it cannot read (400 BAD_QUERY), or a failure. */
  const error = signal<string | null>(null)
  const loadingMore = signal(false)
  /** The query the results are for; a newer one makes older answers moot. */
  let query = ''
  let gen = 0
  let timer: ReturnType<typeof setTimeout> | undefined

  function setQuery(raw: string) {
    const q = raw.trim()
    if (q === query) return
    query = q
    const g = ++gen
    clearTimeout(timer)
    if (!q) {
      batch(() => {
        results.value = []
        nextCursor.value = error.value = null
        status.value = 'idle'
        loadingMore.value = false
      })
      return
    }
    status.value = 'loading'
    timer = setTimeout(() => void first(q, g), DEBOUNCE_MS)
  }

  async function first(q: string, g: number) {
    try {
      const page = await searchApi.search(q, null, PAGE)
      if (g !== gen) return
      batch(() => {
        results.value = page.results
        nextCursor.value = page.nextCursor
        error.value = null
        status.value = 'ready'
      })
    } catch (e) {
      if (g !== gen) return
      batch(() => {
        results.value = []
        nextCursor.value = null
        error.value = e instanceof ApiError && e.code === 'BAD_QUERY' ? e.message : `Could not search: ${describeError(e)}`
        status.value = 'error'
      })
    }
  }

  /** The next page (keyset): appended, each result once. */
  async function more() {
    const cursor = nextCursor.value
    if (!cursor || loadingMore.value || status.value !== 'ready') return
    const g = gen
    loadingMore.value = true
    try {
      const page = await searchApi.search(query, cursor, PAGE)
      if (g !== gen) return
      const key = (r: SearchResult) => `${r.conversationId}:${r.messageId ?? ''}`
      const known = new Set(results.value.map(key))
      batch(() => {
        results.value = [...results.value, ...page.results.filter((r) => !known.has(key(r)))]
        nextCursor.value = page.nextCursor
      })
    } catch (e) {
      if (g === gen) app.flash(`Could not load more results: ${describeError(e)}`)
    } finally {
      if (g === gen) loadingMore.value = false
    }
  }

  /** Opens the result's conversation at its message (loaded around it, highlighted); a contact's result at the newest. */
  function open(r: SearchResult) {
    if (r.conversation) app.state.applyConversation(r.conversation, null)
    if (r.messageId) focusMessage(r.conversationId, r.messageId)
    void app.openConversation(r.conversationId)
  }

  return { results, nextCursor, status, error, loadingMore, setQuery, more, open }
}

export type Search = ReturnType<typeof createSearch>

const instances = new WeakMap<App, Search>()

/** The app's search state, created on first use. */
export function searchOf(app: App): Search {
  let s = instances.get(app)
  if (!s) instances.set(app, (s = createSearch(app)))
  return s
}

/** Results grouped by conversation, in the order each conversation first appears (the server's: newest first). */
export function groupResults(results: readonly SearchResult[]): Array<{ conversationId: number; items: SearchResult[] }> {
  const groups = new Map<number, SearchResult[]>()
  for (const r of results) {
    const g = groups.get(r.conversationId)
    if (g) g.push(r)
    else groups.set(r.conversationId, [r])
  }
  return [...groups].map(([conversationId, items]) => ({ conversationId, items }))
}

/** The snippet cut at its highlights: text pieces and marked ones, in order (overlaps and out-of-range ends ignored). */
export function markSnippet(snippet: string, highlights: ReadonlyArray<readonly [number, number]> | undefined) {
  const out: Array<{ text: string; mark: boolean }> = []
  let at = 0
  const ranges = [...(Array.isArray(highlights) ? highlights : [])].filter(Array.isArray).sort((a, b) => a[0] - b[0])
  for (const [a, b] of ranges) {
    const start = Math.max(at, Math.floor(a))
    const end = Math.min(snippet.length, Math.floor(b))
    if (!(end > start)) continue
    if (start > at) out.push({ text: snippet.slice(at, start), mark: false })
    out.push({ text: snippet.slice(start, end), mark: true })
    at = end
  }
  if (at < snippet.length) out.push({ text: snippet.slice(at), mark: false })
  return out
}
