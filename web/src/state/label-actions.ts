// Label actions (issue 14): the only code that asks the server about labels. The list is
// loaded with the inbox and follows `labels.changed`; a conversation's labels change at
// once on screen and the server's `conversation.updated` confirms them for everyone.
import { labelsApi } from '../api/labels.ts'
import type { StreamEvent } from '../api/stream.ts'
import type { ApplyResult, InboxState } from './inbox.ts'
import { createLabelsState, type LabelRef } from './labels.ts'

export function createLabelActions(deps: {
  state: InboxState
  flash: (message: string) => void
  /** The list's label filter moved (the deleted label it showed): reload the list. */
  setLabelFilter: (id: number | null) => void
}) {
  const { state } = deps
  const labels = createLabelsState()
  let loading: Promise<void> | null = null

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

  /** A label is gone (deleted here): the list's filter on it resets. */
  function forget(id: number) {
    if (state.label.value === id) deps.setLabelFilter(null)
  }

  // Setting a conversation's labels (the header's picker) and the admins' changes
  // (Settings → Labels) are label-edit.ts, loaded with the screens that use them.
  return { ...labels, state, flash: deps.flash, load, onEvent, forget }
}

export type LabelActions = ReturnType<typeof createLabelActions>
