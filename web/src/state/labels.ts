// The workspace's labels in the browser (issue 14): signals and pure transitions only
// (state/label-actions.ts fills them from the server and the stream).
//
// How a rename, a recolour or a delete reaches the chips: the server sends ONE
// `labels.changed` with the whole list, not a `conversation.updated` per conversation
// carrying the label. A conversation's chips are drawn from its label ids looked up in the
// list held here (the newest by event id), so one event renames or removes every chip at
// once, and an older conversation copy (a page read before the rename) cannot bring back
// an old name. A label id the list does not know:
//   - one the list held before and dropped: deleted, so no chip;
//   - one it never held (created after the list was read, before a stream event said so):
//     the conversation's own copy is drawn.
import { computed, signal } from '@preact/signals'
import type { LabelRef } from '../../../src/events/types.ts'
import { parseEventId } from './event-id.ts'

export type { LabelRef }

export function createLabelsState() {
  /** Null until loaded. */
  const list = signal<LabelRef[] | null>(null)
  let asOf: { epoch: string; n: number } | null = null
  const deleted = new Set<number>()
  const byId = computed(() => new Map((list.value ?? []).map((l) => [l.id, l])))

  /**
   * A list read at `eventId` (GET) or carried by the event `eventId` (`labels.changed`).
   * Applies only if not older than what is held (an event: only if newer); another
   * database's id always applies (after a reset the old positions mean nothing).
   */
  function apply(labels: LabelRef[], eventId: string | null, opts: { event?: boolean } = {}): boolean {
    const pos = parseEventId(eventId)
    if (pos && asOf && pos.epoch === asOf.epoch && (opts.event ? pos.n <= asOf.n : pos.n < asOf.n)) return false
    const next = new Set(labels.map((l) => l.id))
    for (const l of list.value ?? []) if (!next.has(l.id)) deleted.add(l.id)
    for (const id of next) deleted.delete(id)
    list.value = labels
    if (pos) asOf = pos
    return true
  }

  /** A conversation's labels as the chips show them: the newest names and colours, deleted ones gone. */
  function resolve(refs: readonly LabelRef[] | undefined): LabelRef[] {
    if (!refs || refs.length === 0) return []
    const known = byId.value
    const out: LabelRef[] = []
    for (const r of refs) {
      const l = known.get(r.id)
      if (l) out.push(l)
      else if (!deleted.has(r.id)) out.push(r)
    }
    return out
  }

  return { list, byId, apply, resolve, isDeleted: (id: number) => deleted.has(id) }
}

export type LabelsState = ReturnType<typeof createLabelsState>
