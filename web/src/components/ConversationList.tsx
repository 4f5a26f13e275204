// The conversation list: search, status filter, and a virtualized listbox (fixed row
// height, only the visible rows are in the DOM) that stays smooth at 10,000 rows.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { memo } from '../lib/memo.ts'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import type { ChannelFilter, StatusFilter } from '../state/inbox.ts'
import { assigneeOf, type AssignView } from '../state/team.ts'
import { clock } from '../lib/clock.ts'
import { PresenceMarker } from './Presence.tsx'
import { contactLabel, initials, listTime, rowTime } from '../lib/format.ts'
import { channelBadge, channelFilterOptions, channelWindow } from '../lib/channels.ts'
import { LabelChips } from './LabelChips.tsx'
import { LabelFilter } from './LabelFilter.tsx'
import { lazy, LazyInline } from '../lib/lazy.tsx'

// Issue 15: the search (its results, their paging) loads with the first query typed.
const searchPanel = lazy(() => import('./SearchResults.tsx'))

const ROW_HEIGHT = 72
// Rows rendered beyond the visible ones, so a fast scroll does not show blanks.
const OVERSCAN = 6
// Ask for the next page when this close to the end of what is loaded.
const LOAD_AHEAD_ROWS = 20

// Issue 13: whose conversations, each with its live count of open ones.
const VIEWS: Array<[AssignView, string]> = [
  ['mine', 'Mine'],
  ['unassigned', 'Unassigned'],
  ['all', 'All'],
]

const FILTERS: Array<[StatusFilter, string]> = [
  ['open', 'Open'],
  ['pending', 'Pending'],
  ['snoozed', 'Snoozed'],
  ['resolved', 'Resolved'],
  ['all', 'All'],
]

export function ConversationList() {
  const app = useApp()
  const s = app.state
  const list = s.conversationList.value
  const paging = s.paging.value
  const selectedId = s.selectedId.value
  const now = clock.value
  const channels = app.channels.value
  const box = useRef<HTMLDivElement>(null)
  const [top, setTop] = useState(0)
  const [height, setHeight] = useState(800)

  useLayoutEffect(() => {
    const el = box.current!
    const ro = new ResizeObserver(() => setHeight(el.clientHeight))
    ro.observe(el)
    setHeight(el.clientHeight)
    return () => ro.disconnect()
  }, [])

  // A new filter or search starts at the top.
  useLayoutEffect(() => {
    if (box.current) box.current.scrollTop = 0
    setTop(0)
  }, [s.filter.value, s.channel.value, s.view.value, s.label.value])

  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN)
  const last = Math.min(list.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN)

  useEffect(() => {
    if (!paging.complete && !paging.loading && last >= list.length - LOAD_AHEAD_ROWS) void app.loadConversations(false)
  }, [last, list.length, paging.complete, paging.loading])

  // Keep the selected row in view when the keyboard moves it.
  useLayoutEffect(() => {
    const el = box.current
    const i = list.findIndex((c) => c.id === selectedId)
    if (!el || i < 0) return
    if (i * ROW_HEIGHT < el.scrollTop) el.scrollTop = i * ROW_HEIGHT
    else if ((i + 1) * ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = (i + 1) * ROW_HEIGHT - el.clientHeight
  }, [selectedId])

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      app.step(e.key === 'ArrowDown' ? 1 : -1)
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault()
      const c = e.key === 'Home' ? list[0] : list[list.length - 1]
      if (c) void app.openConversation(c.id)
    } else if (e.key === 'Enter' && selectedId !== null) {
      e.preventDefault()
      document.querySelector<HTMLElement>('#composer-input')?.focus()
    }
  }

  const counts = s.counts.value
  const me = s.me.value
  const q = s.search.value.trim()
  return (
    <div class={q ? 'conv-list searching' : 'conv-list'}>
      <div class="views" role="tablist" aria-label="Whose conversations">
        {VIEWS.map(([v, label]) => {
          const on = s.view.value === v
          const n = counts?.[v]
          return (
            <button
              type="button"
              role="tab"
              key={v}
              class={on ? 'view-tab on' : 'view-tab'}
              aria-selected={on}
              aria-controls="conversation-list"
              data-view={v}
              title={n === undefined ? label : `${label}: ${n} open`}
              onClick={() => app.setView(v)}
            >
              {label}
              {n !== undefined && (
                <span class="view-count" data-count={n}>
                  {n > 999 ? '999+' : n}
                </span>
              )}
            </button>
          )
        })}
      </div>
      <div class="list-tools">
        {/* Issue 15: one box searches messages, notes and contacts (names, numbers); / or Ctrl+K comes here (Inbox.tsx). */}
        <input
          type="search"
          id="search"
          class="search"
          placeholder="Search messages, names, numbers"
          aria-label="Search"
          value={s.search.value}
          onInput={(e) => (s.search.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown' && !q) {
              e.preventDefault()
              box.current?.focus()
              if (selectedId === null) app.step(1)
            }
          }}
        />
        <div class="filters" role="group" aria-label="Show conversations">
          {FILTERS.map(([f, label]) => (
            <button
              type="button"
              key={f}
              class={s.filter.value === f ? 'chip on' : 'chip'}
              aria-pressed={s.filter.value === f}
              onClick={() => app.setFilter(f)}
            >
              {label}
            </button>
          ))}
          {/* One channel needs no filter; a second number or page brings it. */}
          {channels.length > 1 && (
            <select
              class="channel-filter"
              aria-label="Show conversations of channel"
              value={s.channel.value}
              onChange={(e) => app.setChannel(e.currentTarget.value as ChannelFilter)}
            >
              {channelFilterOptions(channels).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
          <LabelFilter />
        </div>
      </div>
      {q && <LazyInline of={searchPanel}>{(m) => <m.SearchResults query={q} />}</LazyInline>}
      <div
        ref={box}
        id="conversation-list"
        class="conv-scroll"
        role="listbox"
        tabIndex={0}
        aria-label="Conversations"
        aria-activedescendant={selectedId !== null ? `conv-${selectedId}` : undefined}
        onScroll={(e) => setTop(e.currentTarget.scrollTop)}
        onKeyDown={onKeyDown}
      >
        <div class="conv-spacer" style={{ height: `${list.length * ROW_HEIGHT}px` }}>
          {list.slice(first, last).map((c, i) => (
            <ConversationRow
              key={c.id}
              c={c}
              top={(first + i) * ROW_HEIGHT}
              selected={c.id === selectedId}
              now={now}
              channel={channelBadge(c.channelKind, c.channelId, channels)}
              me={me}
              onOpen={app.openConversation}
            />
          ))}
        </div>
        {list.length === 0 && <p class="list-empty">{paging.loading ? 'Loading…' : 'No conversations yet.'}</p>}
      </div>
    </div>
  )
}

const ConversationRow = memo(function ConversationRow(props: {
  c: ConversationDTO
  top: number
  selected: boolean
  now: number
  /** The channel badge's text (kind, and name when there are several of that kind). */
  channel: string
  /** Who is signed in: their own conversations say "you". */
  me: number | null
  onOpen: (id: number) => unknown
}) {
  const { c, now } = props
  const assignee = assigneeOf(c)
  const assignedTo = assignee ? (assignee.id === props.me ? 'Assigned to you' : `Assigned to ${assignee.name}`) : undefined
  const name = contactLabel(c.contact)
  const win = channelWindow(c.channelKind, c.windowExpiresAt, now)
  const unread = c.unreadCount
  const failed = c.lastMessageDirection === 'out' && c.lastMessageStatus === 'failed'
  const why = failed ? `Not delivered: ${c.lastMessageError ?? 'the message was not delivered.'}` : undefined
  return (
    <div
      role="option"
      id={`conv-${c.id}`}
      class={`conv-row${props.selected ? ' selected' : ''}${unread > 0 ? ' unread' : ''}`}
      aria-selected={props.selected}
      data-conversation-id={c.id}
      data-channel-kind={c.channelKind}
      data-last-status={c.lastMessageStatus ?? undefined}
      style={{ transform: `translateY(${props.top}px)` }}
      onClick={() => void props.onOpen(c.id)}
    >
      <span class="avatar" aria-hidden="true">
        {initials(name)}
      </span>
      <span class="conv-main">
        <span class="conv-line">
          <span class="conv-name">{name}</span>
          <span class={`win ${win.mode === 'open' ? 'open' : 'closed'} win-${win.mode}`} title="24-hour customer service window">
            {win.label}
          </span>
          <time class="conv-time" dateTime={new Date(rowTime(c)).toISOString()}>
            {listTime(rowTime(c), now)}
          </time>
        </span>
        <span class="conv-line">
          <span class={`chan chan-${c.channelKind}`} title={props.channel}>
            {props.channel}
          </span>
          <LabelChips refs={c.labels} max={2} />
          <span class={`conv-preview${failed ? ' failed' : ''}`} title={why}>
            {failed && (
              <span class="fail-icon" role="img" aria-label={why}>
                ⚠
              </span>
            )}
            {c.lastMessageDirection === 'out' && <span class="you">You: </span>}
            {c.lastMessagePreview ?? ''}
          </span>
          <PresenceMarker id={c.id} />
          {assignee && (
            <span
              class={`assignee${assignee.id === props.me ? ' mine' : ''}`}
              role="img"
              aria-label={assignedTo}
              title={assignedTo}
              data-assignee-id={assignee.id}
            >
              {initials(assignee.name)}
            </span>
          )}
          {unread > 0 && (
            <span class="badge" aria-label={`${unread} unread`} data-unread={unread}>
              {unread > 999 ? '999+' : unread}
            </span>
          )}
        </span>
      </span>
    </div>
  )
})
