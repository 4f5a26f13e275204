// Label actions (issue 14): the only code that asks the server about labels. The list is
// loaded with the inbox and follows `labels.changed`; a conversation's labels change at
// once on screen and the server's `conversation.updated` confirms them for everyone.
import { ApiError } from '../api/client.ts'
import { labelsApi } from '../api/labels.ts'
import type { StreamEvent } from '../api/stream.ts'
import type { ApplyResult, InboxState } from './inbox.ts'
import { createLabelsState, type LabelRef } from './labels.ts'

/** Ordered as the server orders them (by name, then id; store/labels.ts). */
const byName = (a: LabelRef, b: LabelRef) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id)

export function createLabelActions(deps: {
  state: InboxState
  flash: (message: string) => void
  /** The list's label filter moved (the deleted label it showed): reload the list. */
  setLabelFilter: (id: number | null) => void
}) {
  const { state } = deps
  const labels = createLabelsState()
  let loading: Promise<void> | null = null
  // One PUT at a time per conversation, in the order the agent ticked: two quick ticks on
  // two connections could otherwise reach the server in the other order and leave the
  // first set standing.
  const inFlight = new Map<number, Promise<unknown>>()

  /** Loads the workspace's labels (one request at a time); the inbox works without them. */
  function load(): Promise<void> {
    loading ??= labelsApi
      .list()
      .then((r) => void labels.apply(r.labels, r.eventId))
      .catch(() => {})
      .finally(() => (loading = null))
    return loading
  }

  /** Every stream event, after the inbox state applied it. */
  function onEvent(ev: StreamEvent, result: ApplyResult) {
    // After a reset the list may have missed changes: read it again.
    if (result === 'reset') return void load()
    if (ev.type !== 'labels.changed' || result === 'duplicate') return
    const list = (ev.data as { labels?: unknown } | null)?.labels
    if (!Array.isArray(list)) return
    labels.apply(list as LabelRef[], ev.id, { event: true })
    const f = state.label.value
    if (f !== null && labels.isDeleted(f)) deps.setLabelFilter(null)
  }

  /** The conversation carries exactly these labels: shown at once, undone if the server refuses. */
  async function setConversationLabels(conversationId: number, labelIds: number[]) {
    const c = state.conversation(conversationId)
    if (!c) return
    const before = c.labels ?? []
    const known = labels.byId.value
    const next = labelIds.map((id) => known.get(id) ?? before.find((l) => l.id === id)).filter((l): l is LabelRef => !!l)
    state.applyLocalConversationPatch(conversationId, { labels: next.sort(byName) })
    const run = (inFlight.get(conversationId) ?? Promise.resolve()).then(() => labelsApi.setOnConversation(conversationId, labelIds))
    const settled = run.catch(() => {})
    inFlight.set(conversationId, settled)
    void settled.then(() => inFlight.get(conversationId) === settled && inFlight.delete(conversationId))
    try {
      await run
    } catch (e) {
      if (state.conversation(conversationId)?.labels === next) state.applyLocalConversationPatch(conversationId, { labels: before })
      deps.flash(`Could not change the labels: ${e instanceof ApiError ? e.message : String(e)}`)
    }
  }

  // ---- admins (Settings → Labels): the answer is shown at once; labels.changed follows ----

  async function create(name: string, color: string): Promise<LabelRef> {
    const { label } = await labelsApi.create({ name, color })
    labels.apply([...(labels.list.value ?? []).filter((l) => l.id !== label.id), label].sort(byName), null)
    return label
  }

  async function update(id: number, patch: { name?: string; color?: string }): Promise<LabelRef> {
    const { label } = await labelsApi.update(id, patch)
    labels.apply((labels.list.value ?? []).map((l) => (l.id === id ? label : l)).sort(byName), null)
    return label
  }

  async function remove(id: number): Promise<void> {
    await labelsApi.remove(id)
    labels.apply(
      (labels.list.value ?? []).filter((l) => l.id !== id),
      null,
    )
    if (state.label.value === id) deps.setLabelFilter(null)
  }

  return { ...labels, load, onEvent, setConversationLabels, create, update, remove }
}

export type LabelActions = ReturnType<typeof createLabelActions>
