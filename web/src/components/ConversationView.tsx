// One conversation: header, the history (virtualized, infinite scroll upward, day
// separators, an unread divider, a "new messages" pill when scrolled up), composer.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { MessageDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { threadItems, type PendingMessage, type Thread } from '../state/inbox.ts'
import { clock } from '../lib/clock.ts'
import { contactLabel, dayKey, dayLabel, timeOf, waitingLabel } from '../lib/format.ts'
import { channelBadge, channelWindow, type ChannelWindow } from '../lib/channels.ts'
import { ChatScroller, type ScrollerHandle } from './ChatScroller.tsx'
import { MessageBubble, PendingBubble } from './MessageBubble.tsx'
import { SystemLine } from './SystemLine.tsx'
import { CircleCheck, RotateCcw } from 'lucide'
import { Icon } from './Icon.tsx'
import { Composer } from './Composer.tsx'
import { LabelChips } from './LabelChips.tsx'
import { lazy, LazyInline } from '../lib/lazy.tsx'
import { waitingSinceOf } from '../state/team.ts'
import { ConversationPresence } from './Presence.tsx'
import { NoteBubble } from './NoteBubble.tsx'
import { focus } from '../state/focus.ts'
import { ComposerModes } from './NoteComposer.tsx'

// The header's assignee, label and status/snooze menus load a moment after the first
// conversation opens: out of the inbox's initial JavaScript (test/web-budget.test.ts).
const labelPicker = lazy(() => import('./LabelPicker.tsx'))
const assigneeControl = lazy(() => import('./AssigneeControl.tsx'))
const snoozeMenus = lazy(() => import('./SnoozeMenu.tsx'))
// Issue 15: the admins' "⋯" menu (Export transcript), loaded only for an admin.
const conversationMenu = lazy(() => import('./TranscriptMenu.tsx'))
// Issue 15: a jump to a message (a search result, a mention) and the history around it and after it load on first use.
const messageFocus = lazy(() => import('./MessageFocus.tsx'))
const historyActions = lazy(() => import('../state/history-actions.ts'))

type Row =
  | { key: string; kind: 'top'; loading: boolean; hasOlder: boolean }
  | { key: string; kind: 'newer' }
  | { key: string; kind: 'day'; label: string }
  | { key: string; kind: 'unread'; count: number }
  | { key: string; kind: 'msg'; m: MessageDTO }
  | { key: string; kind: 'pending'; p: PendingMessage }

// Pages (of 100) the view may load on opening to reach the oldest unread message.
const UNREAD_PAGES_MAX = 5

const estimate = (r: Row) => (r.kind === 'msg' || r.kind === 'pending' ? 64 : 36)
const canAnchor = (r: Row) => r.kind === 'msg' || r.kind === 'pending'

/** Reactions are shown on their message; a reaction row remains only if its message is not here. */
function reactionTargetLoaded(t: Thread, m: MessageDTO): boolean {
  if (m.type !== 'reaction') return false
  const target = (m.data as { message_id?: unknown } | null)?.message_id
  return typeof target === 'string' && t.byProviderId.has(target)
}

export function ConversationView({ id }: { id: number }) {
  const app = useApp()
  const s = app.state
  s.convVersion.value
  const conv = s.conversation(id)
  const t = s.thread(id)
  const version = t.version.value
  const status = t.status.value
  const hasOlder = t.hasOlder.value
  const loadingOlder = t.loadingOlder.value
  // Issue 15: opened around a message, not at the live end yet (pages load on scrolling down).
  const hasNewer = t.hasNewer.value
  const now = clock.value
  // The unread count when the agent opened it: where the "unread" divider goes.
  const [unreadAtOpen] = useState(() => conv?.unreadCount ?? 0)
  const [atBottom, setAtBottom] = useState(true)
  const seenUpTo = useRef(0)
  const scroller = useRef<ScrollerHandle | null>(null)

  const { messages, pending } = useMemo(() => threadItems(t), [t, version])
  const newest = messages[messages.length - 1]?.id ?? 0
  if (atBottom || hasNewer) seenUpTo.current = newest
  let newCount = 0
  if (!atBottom) for (let i = messages.length - 1; i >= 0 && messages[i]!.id > seenUpTo.current; i--) newCount++

  // The divider sits above the oldest of the customer messages that were unread when
  // the agent opened the conversation; fixed once the history has loaded, so messages
  // arriving later do not move it.
  // More unread than the first page holds: older pages are loaded (a few at most) until
  // the oldest unread is in; past that bound the divider goes above the oldest loaded one.
  const divider = useRef<number | null>(null)
  const unreadPages = useRef(0)
  let wantOlder = false
  if (divider.current === null && status === 'ready' && !loadingOlder) {
    let left = unreadAtOpen
    let oldestIn = -1
    for (let i = messages.length - 1; i >= 0 && left > 0; i--) {
      const m = messages[i]!
      if (m.direction === 'in' && m.type !== 'reaction') {
        oldestIn = m.id
        left--
      }
    }
    // Opened far back (a search result): the unread ones are at the live end, not here.
    if (hasNewer) divider.current = -1
    else if (left > 0 && hasOlder && unreadPages.current < UNREAD_PAGES_MAX) wantOlder = true
    else divider.current = oldestIn
  }
  useEffect(() => {
    if (!wantOlder) return
    unreadPages.current++
    void app.loadOlder(id)
  }, [wantOlder, version])
  const dividerBefore = divider.current

  const rows = useMemo(() => {
    const out: Row[] = [{ key: 'top', kind: 'top', loading: loadingOlder, hasOlder }]
    let lastDay = ''
    for (const m of messages) {
      if (reactionTargetLoaded(t, m)) continue
      const day = dayKey(m.timestamp)
      if (day !== lastDay) {
        out.push({ key: `day-${day}`, kind: 'day', label: dayLabel(m.timestamp, now) })
        lastDay = day
      }
      if (m.id === dividerBefore) out.push({ key: 'unread', kind: 'unread', count: unreadAtOpen })
      out.push({ key: `m-${m.id}`, kind: 'msg', m })
    }
    for (const p of pending) {
      const day = dayKey(p.createdAt)
      if (day !== lastDay) {
        out.push({ key: `day-${day}`, kind: 'day', label: dayLabel(p.createdAt, now) })
        lastDay = day
      }
      out.push({ key: `p-${p.clientMessageId}`, kind: 'pending', p })
    }
    if (hasNewer) out.push({ key: 'newer', kind: 'newer' })
    return out
  }, [messages, pending, loadingOlder, hasOlder, hasNewer, dividerBefore, dayKey(now)])

  // A jump (a mention's note, issue 14; a search result, issue 15) scrolls to its message, loading the history around it.
  const f = focus.value?.conversationId === id ? focus.value : null

  // Reading the newest messages clears the unread badge (when the tab is visible).
  const unread = conv?.unreadCount ?? 0
  // The bottom of a window far back is not the newest message: nothing is read there.
  const live = atBottom && !hasNewer
  useEffect(() => {
    app.atBottom.value = live
    if (live && unread > 0 && status === 'ready') app.autoRead(id)
  }, [live, unread, status])
  useEffect(() => {
    const onVisible = () => app.atBottom.value && app.autoRead(id)
    document.addEventListener('visibilitychange', onVisible)
    return () => document.removeEventListener('visibilitychange', onVisible)
  }, [id])

  if (!conv) {
    return (
      <section class="conversation" aria-busy="true">
        <p class="pane-note">Loading…</p>
      </section>
    )
  }
  const name = contactLabel(conv.contact)
  const win = channelWindow(conv.channelKind, conv.windowExpiresAt, now)
  // Issue 13: since the customer's first unanswered message; a reply from anyone ends it.
  const waitingSince = waitingSinceOf(conv)

  const renderRow = (r: Row) => {
    switch (r.kind) {
      case 'top':
        return (
          <div class="history-top">
            {r.loading ? 'Loading older messages…' : r.hasOlder ? '' : status === 'ready' ? 'Start of the conversation' : ''}
          </div>
        )
      case 'day':
        return (
          <div class="day-sep" role="separator">
            <span>{r.label}</span>
          </div>
        )
      case 'unread':
        return (
          <div class="unread-sep" role="separator">
            <span>
              {r.count} unread message{r.count === 1 ? '' : 's'}
            </span>
          </div>
        )
      case 'msg':
        if (r.m.direction === 'system' && r.m.type === 'note') return <NoteBubble m={r.m} />
        return r.m.direction === 'system' ? <SystemLine m={r.m} /> : <MessageBubble m={r.m} thread={t} />
      case 'pending':
        return <PendingBubble p={r.p} />
      case 'newer':
        return <div class="history-top">Loading newer messages…</div>
    }
  }

  return (
    <section class="conversation" aria-label={`Conversation with ${name}`} data-conversation={id}>
      {f && <LazyInline of={messageFocus}>{(m) => <m.MessageFocus f={f} rows={rows} scroller={scroller} t={t} />}</LazyInline>}
      <header class="conv-header">
        <button type="button" class="icon back" onClick={() => app.closeConversation()} aria-label="Back to conversations">
          ←
        </button>
        <div class="who">
          <h2>{name}</h2>
          <span class="sub">
            {conv.contact.phone ? `+${conv.contact.phone}` : conv.contact.externalId} ·{' '}
            <span class={`chan chan-${conv.channelKind}`}>{channelBadge(conv.channelKind, conv.channelId, app.channels.value)}</span> ·{' '}
            <span class={`win ${win.mode === 'open' ? 'open' : 'closed'}`}>{headerWindow(win, now)}</span>
            {waitingSince !== null && (
              <>
                {' · '}
                <span class="waiting" data-waiting-since={waitingSince} title={`The customer has waited since ${timeOf(waitingSince)}`}>
                  {waitingLabel(waitingSince, now)}
                </span>
              </>
            )}
          </span>
          <ConversationPresence id={id} />
          <LabelChips refs={conv.labels} />
        </div>
        <LazyInline of={labelPicker}>{(m) => <m.LabelPicker conv={conv} />}</LazyInline>
        <LazyInline of={assigneeControl}>{(m) => <m.AssigneeControl conv={conv} />}</LazyInline>
        <StatusButton id={id} resolved={conv.status === 'resolved'} />
        <LazyInline of={snoozeMenus}>{(m) => <m.StatusControls conv={conv} />}</LazyInline>
        {app.user.value?.role === 'admin' && <LazyInline of={conversationMenu}>{(m) => <m.ConversationMenu conv={conv} />}</LazyInline>}
      </header>
      <LazyInline of={snoozeMenus}>{(m) => <m.SnoozedBar conv={conv} />}</LazyInline>
      {status === 'error' ? (
        <p class="pane-note" role="alert">
          Could not load the messages.{' '}
          <button type="button" class="link" onClick={() => void app.openConversation(id)}>
            Try again
          </button>
        </p>
      ) : status === 'loading' && messages.length === 0 ? (
        <p class="pane-note">Loading messages…</p>
      ) : (
        <div class="chat-wrap">
          <ChatScroller
            rows={rows}
            estimate={estimate}
            canAnchor={canAnchor}
            render={renderRow}
            onNearTop={() => void app.loadOlder(id)}
            onNearBottom={hasNewer ? () => void historyActions.load().then((m) => m.loadNewer(app, id)) : undefined}
            focusKey={f && `m-${f.messageId}`}
            onBottomChange={setAtBottom}
            handle={scroller}
            label={`Messages with ${name}`}
          />
          {newCount > 0 && (
            <button type="button" class="new-pill" onClick={() => scroller.current?.scrollToBottom()}>
              {newCount} new message{newCount === 1 ? '' : 's'} ↓
            </button>
          )}
        </div>
      )}
      <ComposerModes conv={conv} />
      <Composer
        conv={conv}
        win={win}
        onSent={() =>
          // A reply sent from far back: the live end replaces the window, then the view goes down to it.
          t.hasNewer.value ? void historyActions.load().then((m) => m.toLatest(app, id, scroller)) : scroller.current?.scrollToBottom()
        }
      />
    </section>
  )
}

/** Resolve / Reopen (issue 11): Alt+R does the same from anywhere in the open conversation. */
function StatusButton({ id, resolved }: { id: number; resolved: boolean }) {
  const app = useApp()
  const toggle = () => void app.setConversationStatus(id, resolved ? 'open' : 'resolved')
  useEffect(() => {
    // e.code, not e.key: Option+R types "®" on a Mac keyboard.
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyR' && app.view.value === 'inbox') {
        e.preventDefault()
        toggle()
      }
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [id, resolved])
  const label = resolved ? 'Reopen' : 'Resolve'
  return (
    <button type="button" class="status-toggle" onClick={toggle} title={`${label} (Alt+R)`} aria-keyshortcuts="Alt+R">
      <Icon icon={resolved ? RotateCcw : CircleCheck} size={16} /> {label}
    </button>
  )
}

/** The header's line about what may be sent now. */
function headerWindow(win: ChannelWindow, now: number): string {
  const until = win.until === null ? '' : win.until - now < 86_400_000 ? timeOf(win.until) : new Date(win.until).toLocaleString()
  switch (win.mode) {
    case 'open':
      return `Window open, ${win.label}`
    case 'template':
      return 'Window closed: template only'
    case 'human_agent':
      return `Window closed: human agent follow-up until ${until}`
    case 'closed':
      return 'Closed: more than 7 days since the customer wrote'
  }
}
