// Issue 15: search results in place of the conversation list while the box holds a
// query: grouped by conversation (contact, channel), each hit a snippet with the words
// found marked — text nodes only, so a customer's `<script>` stays text — and its time.
// Scrolling to the end loads the next page; Esc returns to the list (Inbox.tsx).
// A chunk of its own, loaded with the first query (ConversationList.tsx).
import { useEffect } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { groupResults, markSnippet, searchOf } from '../state/search.ts'
import { clock } from '../lib/clock.ts'
import { contactLabel, listTime } from '../lib/format.ts'
import { channelBadge } from '../lib/channels.ts'
import './search.css'

// Ask for the next page when this close to the end of the results.
const LOAD_AHEAD_PX = 400

export function SearchResults({ query }: { query: string }) {
  const app = useApp()
  const search = searchOf(app)
  const now = clock.value
  const results = search.results.value
  const status = search.status.value
  const selectedId = app.state.selectedId.value
  useEffect(() => search.setQuery(query), [query])
  // Gone (the box cleared): the next search starts fresh.
  useEffect(() => () => search.setQuery(''), [])

  const onScroll = (e: Event) => {
    const el = e.currentTarget as HTMLElement
    if (el.scrollHeight - el.scrollTop - el.clientHeight < LOAD_AHEAD_PX) void search.more()
  }

  return (
    <div class="search-results" role="region" aria-label="Search results" aria-busy={status === 'loading'} onScroll={onScroll}>
      {status === 'loading' && results.length === 0 && <p class="list-empty">Searching…</p>}
      {status === 'error' && (
        <p class="list-empty search-error" role="alert">
          {search.error.value}
        </p>
      )}
      {status === 'ready' && results.length === 0 && (
        <p class="list-empty" role="status">
          No results
        </p>
      )}
      <ul class="search-groups">
        {groupResults(results).map(({ conversationId, items }) => {
          const c = items[0]!.conversation
          const name = c?.contact ? contactLabel(c.contact) : `Conversation ${conversationId}`
          return (
            <li
              key={conversationId}
              class={`search-group${conversationId === selectedId ? ' selected' : ''}`}
              data-conversation-id={conversationId}
            >
              <div class="sg-head">
                <span class="sg-name">{name}</span>
                {c && <span class={`chan chan-${c.channelKind}`}>{channelBadge(c.channelKind, c.channelId, app.channels.value)}</span>}
              </div>
              <ul class="sg-hits">
                {items.map((r) => (
                  <li key={r.messageId ?? 'contact'}>
                    <button type="button" class="search-hit" data-message-id={r.messageId ?? undefined} onClick={() => search.open(r)}>
                      <span class="sh-snippet">
                        {markSnippet(r.snippet ?? '', r.highlights).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}
                      </span>
                      <time dateTime={new Date(r.timestamp).toISOString()}>{listTime(r.timestamp, now)}</time>
                    </button>
                  </li>
                ))}
              </ul>
            </li>
          )
        })}
      </ul>
      {search.nextCursor.value && (
        <button type="button" class="link search-more" disabled={search.loadingMore.value} onClick={() => void search.more()}>
          {search.loadingMore.value ? 'Loading…' : 'More results'}
        </button>
      )}
    </div>
  )
}
