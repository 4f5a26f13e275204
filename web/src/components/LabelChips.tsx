// A conversation's labels as chips (issue 14): a colour dot and the name, on the page's own
// background, so the text keeps the page's contrast whatever the label's colour. Names are
// text nodes (never markup). Names and colours come from the workspace's newest list
// (state/labels.ts), so a rename or a delete reaches every chip with one event.
import type { LabelRef } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import './labels.css'

export function LabelChips({ refs, max }: { refs: readonly LabelRef[] | undefined; max?: number }) {
  const app = useApp()
  // Read so the chips follow a rename or a delete.
  app.labels.list.value
  const labels = app.labels.resolve(refs)
  if (labels.length === 0) return null
  const shown = max === undefined ? labels : labels.slice(0, max)
  const more = labels.length - shown.length
  return (
    <span class="label-chips">
      {shown.map((l) => (
        <span key={l.id} class="label-chip" data-label-id={l.id} title={l.name}>
          <span class="label-dot" style={{ background: l.color }} aria-hidden="true" />
          <span class="label-name">{l.name}</span>
        </span>
      ))}
      {more > 0 && (
        <span class="label-chip label-more" aria-hidden="true">
          +{more}
        </span>
      )}
    </span>
  )
}
