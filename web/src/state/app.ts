// The inbox application: session, the shared stream, and every action that talks to
// the server. Components read signals and call these actions; they never fetch.
import { batch, effect, signal } from '@preact/signals'
import { ApiError, setUnauthorizedHandler } from '../api/client.ts'
import { api, type ChannelPublic, type TemplateDTO, type User } from '../api/http.ts'
import { teamApi, type TeamUserDTO } from '../api/team.ts'
import { assignmentApi, type Availability } from '../api/assignment.ts'
import { createSharedStream } from '../api/shared-stream.ts'
import { presenceApi } from '../api/presence.ts'
import { createPresence } from './presence.ts'
import {
  channelParams,
  createInboxState,
  listKey,
  type ChannelFilter,
  type PendingMessage,
  type ApplyResult,
  type StatusFilter,
  type StreamEvent,
} from './inbox.ts'
import { assignable, assigneeOf, type Assignee, type AssignView, type Person } from './team.ts'
import { newClientMessageId } from '../lib/ids.ts'
import { createSnoozeActions } from './snooze-actions.ts'
import { createDrafts } from '../lib/drafts.ts'
import { createLabelActions } from './label-actions.ts'
import { createSendGuard } from './send-guard.ts'
import { focus } from './focus.ts'
import type { MessageDTO } from '../../../src/events/types.ts'

export type Phase = 'boot' | 'setup' | 'login' | 'inbox' | 'error'
/** Screens of the signed-in app: the inbox, and the settings (your profile; for admins also team and channels). */
export type View = 'inbox' | 'settings'

// 100 conversations fill any screen several times over; 200 is the server's maximum.
const CONVERSATION_PAGE = 100
const MESSAGE_PAGE = 100
const RESYNC_RETRY_MS = 2000
// Events that move a conversation the counts cannot place come in bursts (a campaign's
// replies): one request for the views' counts per burst.
const COUNTS_DEBOUNCE_MS = 500
/** The top of the page warns this long before the session ends (SESSION_TTL_SECONDS). */
export const SESSION_WARN_MS = 5 * 60_000
// A session check that could not reach the server is tried again after this long.
const SESSION_RECHECK_MS = 30_000
// setTimeout's largest delay (2^31-1 ms, about 24.8 days); a longer TTL is checked in steps.
const MAX_TIMER_MS = 2_147_483_647
// Other tabs of this browser hear about a new sign-in here and resume with it.
const SESSION_CHANNEL = 'parley-session'

export function createApp() {
  const state = createInboxState()
  const phase = signal<Phase>('boot')
  const user = signal<User | null>(null)
  const bootError = signal<string | null>(null)
  /**
   * Per-conversation composer drafts: they survive switching conversations, resets,
   * reloads and an expired session (localStorage, per user: lib/drafts.ts).
   */
  const drafts = createDrafts()
  /** Issue 14: who else views or types where (the stream's id-less `presence` frames), and this tab's own signals. */
  const presence = createPresence({ me: () => user.value?.id ?? null, send: presenceApi.signal })
  /** When the session ends (ms, from the server): the warning and the in-place sign-in. */
  const sessionExpiresAt = signal<number | null>(null)
  /**
   * The in-place sign-in over the page (issue 11): 'expired' when the session has
   * ended (a 401, the stream closed for auth, or its time is up), 'renew' when the
   * agent chose to sign in again before it ends. The page and its state stay under it.
   */
  const reauth = signal<null | 'expired' | 'renew'>(null)
  /** Counts the returns from an ended session (the in-place sign-in): pages reload on it. */
  const resumed = signal(0)
  /** Sandbox mode (issue 4): the page says so across the top; nothing reaches Meta. */
  const sandbox = signal(false)
  /** Parley can mail links (SMTP_URL): the sign-in page offers "Forgot password?" (issue 13). */
  const mail = signal(false)
  let sessionTimer: ReturnType<typeof setTimeout> | undefined
  const sessionChannel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(SESSION_CHANNEL) : null
  /** The message being replied to, per conversation. */
  const replyTo = signal<{ conversationId: number; message: MessageDTO } | null>(null)
  /**
   * The composer mode a failed bubble's action asked for (issue 11): the template picker
   * after WhatsApp's 131047, the HUMAN_AGENT follow-up after Messenger's code 10 — Meta's
   * window closed though Parley's clock says open. Until the customer writes again
   * (their window moves) or the agent goes back to text.
   */
  const composeOverride = signal<{ conversationId: number; mode: 'template' | 'human_agent'; windowExpiresAt: number | null } | null>(null)
  const toast = signal<string | null>(null)
  const view = signal<View>('inbox')
  /** The workspace's WhatsApp numbers and Messenger pages: badges, the filter, settings. */
  const channels = signal<ChannelPublic[]>([])
  let channelsLoading: Promise<void> | null = null
  let stream: ReturnType<typeof createSharedStream> | null = null
  let resyncGen = 0
  const markingRead = new Set<number>()
  /** This person's availability (issue 13): the top bar's switch; the server's default until it says. */
  const availability = signal<Availability>('online')
  /**
   * The team as the assignee picker needs it: GET /api/users (admins); null while not
   * loaded or when refused (agents): the picker then works from the channels' members.
   */
  const people = signal<Person[] | null>(null)
  let peopleLoading: Promise<void> | null = null
  let peopleRefused = false
  let countsTimer: ReturnType<typeof setTimeout> | undefined
  const eventListeners = new Set<(ev: StreamEvent, result: ApplyResult) => void>()
  let countsGen = 0
  /** The workspace's labels (issue 14): the chips, the picker and the list's label filter. */
  const labels = createLabelActions({ state, flash: (m) => flash(m), setLabelFilter: (id) => setLabelFilter(id) })

  setUnauthorizedHandler(() => loggedOut(true))

  const describe = (e: unknown) =>
    e instanceof ApiError ? (e.status === 0 ? 'No connection to Parley. It will be sent when you retry.' : e.message) : String(e)

  function flash(msg: string) {
    toast.value = msg
    setTimeout(() => {
      if (toast.value === msg) toast.value = null
    }, 5000)
  }

  // --- session ---------------------------------------------------------------

  async function boot() {
    try {
      const me = await api.me()
      signedIn(me.user, me.expiresAt)
      await enterInbox()
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        try {
          const s = await api.setupNeeded()
          mail.value = s.mail === true
          phase.value = s.needed ? 'setup' : 'login'
        } catch (err) {
          bootError.value = describe(err)
          phase.value = 'error'
        }
      } else {
        bootError.value = describe(e)
        phase.value = 'error'
      }
    }
  }

  async function login(email: string, password: string, second?: { totp?: string; recoveryCode?: string }) {
    const r = await api.login({ email, password, ...second })
    signedIn(r.user, r.expiresAt)
    await enterInbox()
  }

  async function setup(body: { email: string; name: string; password: string }) {
    const r = await api.setup(body)
    signedIn(r.user, r.expiresAt)
    await enterInbox()
  }

  function signedIn(u: User, expiresAt: number) {
    user.value = u
    state.me.value = u.id
    if (u.availability) availability.value = u.availability
    drafts.use(u.id)
    sessionExpiresAt.value = expiresAt
    scheduleSessionCheck()
  }

  /**
   * Signs in from the in-place form: the same person carries on exactly where they
   * were (conversation, draft, scroll) and the stream resumes from its cursor, so
   * nothing that happened meanwhile is missed. Someone else starts clean at their own inbox.
   */
  async function reauthenticate(email: string, password: string, second?: { totp?: string; recoveryCode?: string }) {
    const before = user.value
    const r = await api.login({ email, password, ...second })
    if (before && r.user.id !== before.id) {
      location.assign('/')
      return
    }
    signedIn(r.user, r.expiresAt)
    sessionChannel?.postMessage('signed-in')
    resume()
  }

  /** Back from an ended session: stream again from the cursor; reload what failed meanwhile. */
  function resume() {
    const wasExpired = reauth.value === 'expired'
    reauth.value = null
    if (!wasExpired || phase.value !== 'inbox') return
    // The other pages (contacts, campaigns) reload what their requests missed meanwhile.
    resumed.value++
    startStream().start()
    const sel = state.selectedId.value
    if (sel !== null && state.thread(sel).status.value !== 'ready') void openConversation(sel, { push: false })
    if (state.conversationList.value.length === 0) void loadConversations(true)
  }

  /** Asks the server whether the session holds (and until when), at the warning and at the end. */
  function scheduleSessionCheck(delayMs?: number) {
    clearTimeout(sessionTimer)
    const at = sessionExpiresAt.value
    if (at === null) return
    const now = Date.now()
    const due = delayMs ?? (at - now > SESSION_WARN_MS ? at - SESSION_WARN_MS - now : at - now)
    sessionTimer = setTimeout(() => void checkSession(), Math.min(MAX_TIMER_MS, Math.max(0, due)))
  }

  async function checkSession() {
    try {
      const me = await api.me()
      // Possibly a newer session: another tab signed in again meanwhile.
      sessionExpiresAt.value = me.expiresAt
      if (user.value?.id !== me.user.id) return location.assign('/')
      if (reauth.value === 'expired') resume()
      // Still valid past its end by this browser's clock: the clocks differ; ask again later, not at once.
      scheduleSessionCheck(me.expiresAt <= Date.now() ? SESSION_RECHECK_MS : undefined)
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) loggedOut(true)
      else scheduleSessionCheck(SESSION_RECHECK_MS)
    }
  }

  if (sessionChannel) sessionChannel.onmessage = () => void (reauth.value === 'expired' && checkSession())

  /** A password reset link (`npm run admin -- reset-password`): whose it is, while it holds. */
  const checkResetLink = (token: string) => api.checkResetLink(token)

  /** Sets the new password from a reset link, then signs in with it like any other. */
  async function resetPassword(token: string, email: string, password: string) {
    await api.resetPassword({ token, password })
    await api.login({ email, password }).catch(() => {})
  }

  /** An invitation link (issue 13): who invited whom, where, while it holds. */
  const checkInvitation = async (token: string) => (await teamApi.checkInvitation(token)).invitation

  /** Accepts the invitation: the server signs the new person in (the session cookie). */
  async function acceptInvitation(token: string, name: string, password: string) {
    await teamApi.acceptInvitation({ token, name, password })
  }

  /** "Forgot password?": the server mails a link if the address has an account (the same answer either way). */
  async function requestPasswordReset(email: string) {
    await teamApi.requestPasswordReset(email)
  }

  async function logout() {
    stream?.broadcastLogout()
    await api.logout().catch(() => {})
    loggedOut(false)
  }

  /**
   * The session is over. Signed out on purpose (here or in another tab): start clean at
   * the login screen (the reload drops all state). Expired or revoked: keep the page as
   * it is and ask for the password over it.
   */
  function loggedOut(expired: boolean) {
    stream?.stop()
    stream = null
    presence.clear()
    if (phase.value !== 'inbox') return
    if (!expired) {
      location.assign('/')
      return
    }
    clearTimeout(sessionTimer)
    reauth.value = 'expired'
    state.connection.value = 'offline'
  }

  function startStream() {
    stream?.stop()
    const s = createSharedStream({
      cursor: () => state.cursor.value,
      onEvent: handleEvent,
      onStatus: (s) =>
        batch(() => {
          state.connection.value = s
          if (s === 'live') state.lastSyncedAt.value = Date.now()
        }),
      checkAuth: async () => {
        try {
          await api.me()
          return 'ok'
        } catch (e) {
          return e instanceof ApiError && e.status === 401 ? 'unauthorized' : 'unreachable'
        }
      },
      onLoggedOut: () => loggedOut(false),
      onExpired: () => loggedOut(true),
    })
    // Listen to the leader tab before loading: nothing it relays from now on is missed.
    s.listen()
    stream = s
    return s
  }

  async function enterInbox() {
    const s = startStream()
    void loadChannels()
    void labels.load()
    // The info route exists only in sandbox mode.
    api.sandboxInfo().then(
      () => void (sandbox.value = true),
      () => {},
    )
    applyRoute()
    addEventListener('popstate', applyRoute)
    phase.value = 'inbox'
    void loadCounts()
    const loaded = await loadConversations(true)
    // The first page's cursor is where the stream starts. If the page could not be
    // loaded, the stream starts live-only and the list is fetched again until it loads.
    // (Unless the session ended meanwhile: the in-place sign-in starts a new one.)
    if (s !== stream) return
    s.start()
    if (!loaded) void resync()
  }

  function handleEvent(ev: StreamEvent) {
    if (ev.type === 'presence') return presence.apply(ev.data) // live only: never an event of the log
    const r = state.applyEvent(ev)
    // Features with state of their own (issue 14: mentions) hear every event after the inbox.
    for (const l of eventListeners) l(ev, r)
    if (r === 'reset') void resync()
    labels.onEvent(ev, r)
    // Issue 13: my availability, changed in another tab or on another device.
    const u =
      ev.type === 'user.updated' && r !== 'duplicate' ? (ev.data as { user?: { id?: unknown; availability?: unknown } } | null)?.user : null
    if (u && u.id === user.value?.id && (u.availability === 'online' || u.availability === 'busy' || u.availability === 'away')) {
      availability.value = u.availability
    }
    // A conversation on a number or page added since the list of channels was loaded.
    const cid = (ev.data as { conversation?: { channelId?: unknown } } | null)?.conversation?.channelId
    if (r === 'applied' && typeof cid === 'number' && !channels.value.some((c) => c.id === cid)) void loadChannels()
    // A channel's credential check (Settings): merged, so its live pacing stays.
    if (ev.type === 'channel.updated' && r !== 'duplicate' && r !== 'reset') {
      const ch = (ev.data as { channel?: ChannelPublic } | null)?.channel
      if (ch) channels.value = channels.value.map((c) => (c.id === ch.id ? { ...c, ...ch } : c))
    }
    // Issue 13: an admin changed my name or role, or I did in another tab.
    if (ev.type === 'user.updated' && r !== 'duplicate' && r !== 'reset') {
      const changed = (ev.data as { user?: TeamUserDTO } | null)?.user
      const me = user.value
      if (changed && me && changed.id === me.id) user.value = { ...me, name: changed.name, role: changed.role }
    }
    const sel = state.selectedId.value
    // A message arriving in the open conversation while the agent is reading it.
    if (r === 'applied' && sel !== null && ev.type === 'message.created') autoRead(sel)
  }

  /**
   * After `reset` (the stream could not replay from the cursor), refetch what is on
   * screen. Drafts, pending sends and the open conversation stay.
   */
  async function resync(): Promise<void> {
    const gen = ++resyncGen
    const sel = state.selectedId.value
    try {
      const f = state.filter.value
      const ch = state.channel.value
      const v = state.view.value
      const lb = state.label.value
      void loadCounts()
      const page = await api.conversations({ status: f, ...channelParams(ch), ...viewParam(v), label: lb, limit: CONVERSATION_PAGE })
      if (gen !== resyncGen) return
      state.applyConversationPage(
        page.conversations,
        page.eventId,
        { key: listKey(f, '', ch, v, lb), nextCursor: page.nextCursor, first: true },
        { replace: true },
      )
      state.dropThreadsExcept(sel)
      if (sel !== null) {
        const [c, m] = await Promise.all([api.conversation(sel), api.messages(sel, null, MESSAGE_PAGE)])
        if (gen !== resyncGen) return
        state.applyConversation(c.conversation, c.eventId)
        state.applyMessagePage(sel, m.messages, m.eventId, { older: false, nextCursor: m.nextCursor }, { replace: true })
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && sel !== null) {
        closeConversation()
        return
      }
      // The session ended: the sign-in form is up, and signing in again reloads what is missing.
      if (e instanceof ApiError && e.status === 401) return
      if (gen === resyncGen) setTimeout(() => gen === resyncGen && void resync(), RESYNC_RETRY_MS)
    }
  }

  // --- conversation list -----------------------------------------------------

  /** Loads the first or the next page of the list; false if the server could not answer. */
  async function loadConversations(first: boolean): Promise<boolean> {
    const f = state.filter.value
    // The list is never narrowed by a query: the search box (issue 15) shows search results in its place.
    const ch = state.channel.value
    const v = state.view.value
    const lb = state.label.value
    const key = listKey(f, '', ch, v, lb)
    const p = state.paging.value
    if (!first && (p.key !== key || p.complete || p.loading || !p.nextCursor)) return true
    state.paging.value = first ? { key, nextCursor: null, frontier: null, complete: false, loading: true } : { ...p, loading: true }
    try {
      const page = await api.conversations({
        status: f,
        ...channelParams(ch),
        ...viewParam(v),
        label: lb,
        cursor: first ? null : p.nextCursor,
        limit: CONVERSATION_PAGE,
      })
      state.applyConversationPage(page.conversations, page.eventId, { key, nextCursor: page.nextCursor, first })
      return true
    } catch (e) {
      if (state.paging.value.key === key) state.paging.value = { ...state.paging.value, loading: false }
      flash(`Could not load conversations: ${describe(e)}`)
      return false
    }
  }

  function setFilter(f: StatusFilter) {
    if (state.filter.value === f) return
    state.filter.value = f
    void loadConversations(true)
  }

  /** Mine, Unassigned or All (issue 13): the list asks the server for that view. */
  function setView(v: AssignView) {
    if (state.view.value === v) return
    state.view.value = v
    void loadConversations(true)
  }

  /**
   * The views' counts. One request at a time; a change the state could not place while
   * one is out (`countsStale`) asks again once it answers, so the last word is the newest.
   */
  async function loadCounts(): Promise<void> {
    clearTimeout(countsTimer)
    const gen = ++countsGen
    try {
      const c = await assignmentApi.counts()
      if (gen === countsGen) state.counts.value = { mine: c.mine, unassigned: c.unassigned, all: c.all }
    } catch {
      /* the tabs show no numbers until the next change asks again */
    }
  }
  effect(() => {
    if (state.countsStale.value === 0) return
    clearTimeout(countsTimer)
    countsTimer = setTimeout(() => void loadCounts(), COUNTS_DEBOUNCE_MS)
  })

  /** Issue 14: only conversations carrying this label (null: any); composes with the other filters. */
  function setLabelFilter(id: number | null) {
    if (state.label.value === id) return
    state.label.value = id
    void loadConversations(true)
  }

  function setChannel(ch: ChannelFilter) {
    if (state.channel.value === ch) return
    state.channel.value = ch
    void loadConversations(true)
  }

  /** Loads the channels again (at most one request at a time); the list keeps working without them. */
  function loadChannels(): Promise<void> {
    channelsLoading ??= api
      .channels()
      .then((r) => void (channels.value = r.channels))
      .catch(() => {})
      .finally(() => (channelsLoading = null))
    return channelsLoading
  }

  // --- one conversation ------------------------------------------------------

  function applyRoute() {
    if (location.pathname === '/settings') {
      // Everyone has their profile there; the team and channels sections are for admins.
      view.value = 'settings'
      return
    }
    view.value = 'inbox'
    const m = /^\/c\/(\d+)$/.exec(location.pathname)
    if (m) void openConversation(Number(m[1]), { push: false })
    else state.selectedId.value = null
  }

  /** Moves between the inbox and the settings screen (a history entry each, so Back works). */
  function navigate(to: View) {
    const path = to === 'settings' ? '/settings' : state.selectedId.value !== null ? `/c/${state.selectedId.value}` : '/'
    if (location.pathname !== path) history.pushState(null, '', path)
    applyRoute()
    // Messages that arrived in the open conversation while the settings covered it.
    const sel = state.selectedId.value
    if (view.value === 'inbox' && sel !== null) autoRead(sel)
  }

  async function openConversation(id: number, opts: { push?: boolean } = {}) {
    if (opts.push !== false && location.pathname !== `/c/${id}`) history.pushState(null, '', `/c/${id}`)
    // A notification clicked while the settings are open leads to the inbox.
    view.value = 'inbox'
    state.selectedId.value = id
    const t = state.thread(id)
    try {
      if (!state.conversation(id)) {
        const c = await api.conversation(id)
        state.applyConversation(c.conversation, c.eventId)
      }
      // A jump to a message (focus.ts) loads the history around it instead (components/message-focus.ts).
      if (t.status.value !== 'ready' && focus.value?.conversationId !== id) {
        const m = await api.messages(id, null, MESSAGE_PAGE)
        state.applyMessagePage(id, m.messages, m.eventId, { older: false, nextCursor: m.nextCursor })
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        closeConversation()
        flash('That conversation does not exist.')
      } else {
        if (t.status.value === 'loading') t.status.value = 'error'
        flash(`Could not load the conversation: ${describe(e)}`)
      }
    }
  }

  function closeConversation() {
    if (location.pathname !== '/') history.pushState(null, '', '/')
    state.selectedId.value = null
  }

  /** Moves the selection up or down the list (keyboard). */
  function step(delta: 1 | -1) {
    const list = state.conversationList.value
    if (list.length === 0) return
    const i = list.findIndex((c) => c.id === state.selectedId.value)
    const next = list[i < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + delta))]
    if (next && next.id !== state.selectedId.value) void openConversation(next.id)
  }

  async function loadOlder(id: number) {
    const t = state.thread(id)
    if (!t.hasOlder.value || t.loadingOlder.value || t.status.value !== 'ready') return
    t.loadingOlder.value = true
    try {
      const m = await api.messages(id, t.olderCursor, MESSAGE_PAGE)
      state.applyMessagePage(id, m.messages, m.eventId, { older: true, nextCursor: m.nextCursor })
    } catch (e) {
      t.loadingOlder.value = false
      flash(`Could not load older messages: ${describe(e)}`)
    }
  }

  /** Clears the unread count when the agent is looking at the conversation. */
  function autoRead(id: number) {
    if (typeof document !== 'undefined' && document.visibilityState !== 'visible') return
    if (!atBottom.value || view.value !== 'inbox') return
    void markRead(id)
  }
  /** Whether the open conversation is scrolled to its newest message (set by the view). */
  const atBottom = signal(true)

  async function markRead(id: number) {
    const c = state.conversation(id)
    if (!c || c.unreadCount === 0 || markingRead.has(id)) return
    markingRead.add(id)
    try {
      // The badge goes at once; the server's conversation.updated event confirms it.
      state.applyLocalConversationPatch(id, { unreadCount: 0 })
      await api.markRead(id)
    } catch {
      /* the next visit retries; the stream keeps the true count */
    } finally {
      markingRead.delete(id)
    }
  }

  /**
   * Resolve or reopen (issue 11). The list moves it at once; the server's
   * conversation.updated event (which every agent gets) confirms it.
   */
  async function setConversationStatus(id: number, status: 'open' | 'pending' | 'resolved') {
    const c = state.conversation(id)
    if (!c || c.status === status) return
    // Any status a person sets ends a snooze (issue 14).
    state.applyLocalConversationPatch(id, { status, snoozedUntil: null })
    try {
      await api.post(`/api/conversations/${id}/status`, { status })
    } catch (e) {
      if (state.conversation(id)?.status === status)
        state.applyLocalConversationPatch(id, { status: c.status, snoozedUntil: c.snoozedUntil })
      const verb = status === 'resolved' ? 'resolve' : status === 'pending' ? 'mark pending' : 'reopen'
      flash(`Could not ${verb} the conversation: ${describe(e)}`)
    }
  }

  // Snooze (issue 14): its own actions file, with this app's state and toast.
  const snoozeActions = createSnoozeActions({ state, flash, describe })

  // --- the team (issue 13) ---------------------------------------------------

  /** Loads the team once for the assignee picker; an agent's 403 leaves it to the channels' members. */
  function loadPeople(): Promise<void> {
    if (people.value !== null || peopleRefused) return Promise.resolve()
    // Admins read the people list; an agent the teammates' names (GET /api/team).
    peopleLoading ??= (user.value?.role === 'admin' ? assignmentApi.people() : assignmentApi.teammates().then((r) => ({ users: r.people })))
      .then((r) => {
        people.value = r.users
          .filter((u) => u.disabled !== true)
          .map((u) => ({
            id: u.id,
            name: u.name,
            // Admins work every channel whatever their list says.
            channelIds: u.role === 'admin' || !Array.isArray(u.channelIds) ? null : u.channelIds,
            availability: u.availability,
          }))
      })
      .catch((e) => {
        if (e instanceof ApiError && (e.status === 403 || e.status === 404)) peopleRefused = true
      })
      .finally(() => (peopleLoading = null))
    return peopleLoading
  }

  /** Whom a conversation can be handed to: its channel's members (see team.ts `assignable`). */
  function assigneesFor(conversationId: number): Assignee[] {
    const c = state.conversation(conversationId)
    if (!c) return []
    const ch = channels.value.find((x) => x.id === c.channelId) as { members?: unknown } | undefined
    const members = Array.isArray(ch?.members) ? (ch.members.filter((m) => typeof m === 'number') as number[]) : null
    const me = user.value
    return assignable(c.channelId, people.value, members, state.knownNames, assigneeOf(c), me && { id: me.id, name: me.name })
  }

  /**
   * Assigns (or with null unassigns) a conversation. The header and the views move at
   * once; the server's events (the system line, conversation.updated) confirm it.
   */
  async function assign(id: number, to: Assignee | null) {
    const c = state.conversation(id)
    if (!c) return
    const before = assigneeOf(c)
    if ((before?.id ?? null) === (to?.id ?? null)) return
    state.applyLocalConversationPatch(id, { assignee: to })
    try {
      await assignmentApi.assign(id, to?.id ?? null)
    } catch (e) {
      const now = state.conversation(id)
      if (now && (assigneeOf(now)?.id ?? null) === (to?.id ?? null)) state.applyLocalConversationPatch(id, { assignee: before })
      flash(`Could not ${to ? 'assign' : 'unassign'} the conversation: ${describe(e)}`)
    }
  }

  /** "Assign to me". */
  function takeConversation(id: number) {
    const me = user.value
    if (me) void assign(id, { id: me.id, name: me.name })
  }

  /** Online, busy (no automatic assignment) or away: the top bar's switch. */
  async function setAvailability(status: Availability) {
    const before = availability.value
    if (before === status) return
    availability.value = status
    try {
      const r = await assignmentApi.setAvailability(status)
      const now = r.user?.availability
      if (now) availability.value = now
    } catch (e) {
      if (availability.value === status) availability.value = before
      flash(`Could not change your availability: ${describe(e)}`)
    }
  }

  // --- sending (the API of issue 4) -----------------------------------------

  // Issue 14: replies name what their agent saw; a held one waits for "Send anyway" (send-guard.ts).
  const guard = createSendGuard({
    state,
    drafts,
    submit: (p) => submit(p),
    assignToMe: async (id) => {
      const me = user.value
      if (!me) return false
      await assign(id, { id: me.id, name: me.name })
      const c = state.conversation(id)
      return !!c && assigneeOf(c)?.id === me.id
    },
  })

  function submit(p: PendingMessage) {
    state.addPending(p)
    void post(p)
  }

  async function post(p: PendingMessage) {
    state.updatePending(p.conversationId, p.clientMessageId, { state: 'sending', error: null })
    try {
      let body = p.body
      if (p.file && body.mediaId === undefined) {
        // Upload first; the message then names the stored file. A retry after a failed
        // send reuses the upload.
        const form = new FormData()
        form.set('file', p.file, p.file.name)
        const up = await api.upload(form)
        body = { ...body, mediaId: up.media.id }
        state.updatePending(p.conversationId, p.clientMessageId, { body, file: null })
      }
      const r = await api.post(p.path, body)
      if (r.message) state.applySentMessage(r.message)
    } catch (e) {
      if (guard.intercept(p, e)) return
      state.updatePending(p.conversationId, p.clientMessageId, { state: 'failed', error: describe(e) })
    }
  }

  function pending(conversationId: number, body: Record<string, unknown>, text: string, label: string | null): PendingMessage {
    const clientMessageId = newClientMessageId()
    return {
      clientMessageId,
      conversationId,
      text,
      label,
      replyToMessageId: (body.replyToMessageId as number | undefined) ?? null,
      createdAt: Date.now(),
      state: 'sending',
      error: null,
      body: guard.stamp({ ...body, clientMessageId }, conversationId),
      path: `/api/conversations/${conversationId}/messages`,
    }
  }

  function sendText(conversationId: number, text: string, opts: { humanAgent?: boolean } = {}) {
    const reply = replyTo.value?.conversationId === conversationId ? replyTo.value.message : null
    const body: Record<string, unknown> = { text }
    if (opts.humanAgent) body.humanAgent = true
    if (reply) body.replyToMessageId = reply.id
    batch(() => {
      submit(pending(conversationId, body, text, null))
      if (reply) replyTo.value = null
    })
  }

  /** Resends a pending message with the same clientMessageId: the server never sends it twice. */
  function retryPending(p: PendingMessage) {
    void post(p)
  }

  /** A message the server reported failed: ask the server to send it again. */
  async function retryFailed(m: MessageDTO) {
    try {
      const r = await api.post(`/api/conversations/${m.conversationId}/messages/${m.id}/retry`, {})
      if (r.message) state.applySentMessage(r.message)
    } catch (e) {
      flash(`Could not retry: ${describe(e)}`)
    }
  }

  /** A failed bubble's action: the template picker, or a follow-up starting from the failed words. */
  function composeAfterFailure(m: MessageDTO, mode: 'template' | 'human_agent') {
    const c = state.conversation(m.conversationId)
    if (!c) return
    if (mode === 'human_agent' && m.text && !drafts.get(c.id)) drafts.set(c.id, m.text)
    composeOverride.value = { conversationId: c.id, mode, windowExpiresAt: c.windowExpiresAt }
  }

  function sendTemplate(conversationId: number, t: TemplateDTO, bodyParams: string[], headerParams: string[]) {
    const body = { template: { name: t.name, language: t.language, bodyParams, headerParams } }
    const text = [t.header && fillTemplate(t.header, headerParams), fillTemplate(t.body, bodyParams)].filter(Boolean).join('\n')
    submit(pending(conversationId, body, text, `Template: ${t.name}`))
  }

  function react(m: MessageDTO, emoji: string) {
    // Reactions are shown on their message when the server's message.updated arrives.
    void api
      .post(`/api/conversations/${m.conversationId}/messages`, {
        reaction: { messageId: m.id, emoji },
        clientMessageId: newClientMessageId(),
      })
      .catch((e) => flash(`Could not react: ${describe(e)}`))
  }

  function sendMedia(conversationId: number, file: File, caption: string) {
    const p = pending(conversationId, caption ? { caption } : {}, caption, `📎 ${file.name}`)
    p.file = file
    submit(p)
  }

  const templates = signal<TemplateDTO[] | null>(null)
  async function loadTemplates(conversationId: number) {
    try {
      templates.value = (await api.templates(conversationId)).templates
    } catch (e) {
      templates.value = []
      flash(`Could not load templates: ${describe(e)}`)
    }
  }

  // The page title counts unread messages, so a background tab shows news.
  effect(() => {
    if (typeof document === 'undefined') return
    const n = state.unreadTotal.value
    document.title = n > 0 ? `(${n}) Parley` : 'Parley'
  })

  return {
    state,
    phase,
    user,
    bootError,
    drafts,
    presence,
    replyTo,
    toast,
    atBottom,
    templates,
    view,
    channels,
    isLeader: () => stream?.isLeader() ?? false,
    reconnectNow: () => stream?.reconnectNow(),
    sessionExpiresAt,
    reauth,
    resumed,
    sandbox,
    mail,
    boot,
    checkInvitation,
    acceptInvitation,
    requestPasswordReset,
    checkResetLink,
    resetPassword,
    login,
    reauthenticate,
    setup,
    logout,
    loadConversations,
    setFilter,
    setChannel,
    setView,
    setLabelFilter,
    labels,
    loadCounts,
    loadChannels,
    availability,
    setAvailability,
    people,
    loadPeople,
    assigneesFor,
    assign,
    takeConversation,
    navigate,
    openConversation,
    closeConversation,
    step,
    loadOlder,
    markRead,
    autoRead,
    setConversationStatus,
    ...snoozeActions,
    sendText,
    retryPending,
    retryFailed,
    composeOverride,
    composeAfterFailure,
    sendTemplate,
    sendMedia,
    guard,
    react,
    loadTemplates,
    flash,
    /** Every stream event, with what the inbox state made of it; returns the unsubscribe. */
    onEvent(listener: (ev: StreamEvent, result: ApplyResult) => void) {
      eventListeners.add(listener)
      return () => eventListeners.delete(listener)
    },
  }
}

export type App = ReturnType<typeof createApp>

/** The view as the list API's query parameter; All is the API's default, so it is left out. */
const viewParam = (v: AssignView): { view?: AssignView } => (v === 'all' ? {} : { view: v })

/** The template's text with the values filled in, positional ({{1}}) or named ({{name}}) in order. */
export function fillTemplate(text: string, params: string[]): string {
  let i = 0
  const named = new Map<string, string>()
  return text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, key: string) => {
    const v = /^\d+$/.test(key) ? params[Number(key) - 1] : (named.get(key) ?? params[i++])
    if (!/^\d+$/.test(key) && v !== undefined) named.set(key, v)
    return v || whole
  })
}
