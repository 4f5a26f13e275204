// Changing labels (issue 14): a conversation's set (the header's picker) and the admins'
// create, rename, recolour and delete (Settings → Labels). Loaded with those screens, not
// with the inbox (test/web-budget.test.ts); the list itself and its events are label-actions.ts.
import { ApiError } from '../api/client.ts'
import { labelsApi } from '../api/labels.ts'
import type { LabelActions } from './label-actions.ts'
import type { LabelRef } from './labels.ts'

/** Ordered as the server orders them (by name, then id; store/labels.ts). */
const byName = (a: LabelRef, b: LabelRef) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id)

// One PUT at a time per conversation, in the order the agent ticked: two quick ticks on
// two connections could otherwise reach the server in the other order and leave the
// first set standing.
const inFlight = new Map<number, Promise<unknown>>()

/** The conversation carries exactly these labels: shown at once, undone if the server refuses. */
export async function setConversationLabels(labels: LabelActions, conversationId: number, labelIds: number[]) {
  const { state } = labels
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
    labels.flash(`Could not change the labels: ${e instanceof ApiError ? e.message : String(e)}`)
  }
}

// ---- admins (Settings → Labels): the answer is shown at once; labels.changed follows ----

export async function createLabel(labels: LabelActions, name: string, color: string): Promise<LabelRef> {
  const { label } = await labelsApi.create({ name, color })
  labels.apply([...(labels.list.value ?? []).filter((l) => l.id !== label.id), label].sort(byName), null)
  return label
}

export async function updateLabel(labels: LabelActions, id: number, patch: { name?: string; color?: string }): Promise<LabelRef> {
  const { label } = await labelsApi.update(id, patch)
  labels.apply((labels.list.value ?? []).map((l) => (l.id === id ? label : l)).sort(byName), null)
  return label
}

export async function removeLabel(labels: LabelActions, id: number): Promise<void> {
  await labelsApi.remove(id)
  labels.apply(
    (labels.list.value ?? []).filter((l) => l.id !== id),
    null,
  )
  labels.forget(id)
}
