// The list's label filter (issue 14): any label, or only the conversations carrying one.
// It composes with the status, view, channel and search filters (the list asks the server
// with `?label=`).
import { useApp } from '../state/context.ts'

export function LabelFilter() {
  const app = useApp()
  const labels = app.labels.list.value ?? []
  const current = app.state.label.value
  // No labels defined, and none chosen: nothing to filter by.
  if (labels.length === 0 && current === null) return null
  return (
    <select
      class="label-filter"
      aria-label="Show conversations with label"
      value={current === null ? '' : String(current)}
      onChange={(e) => app.setLabelFilter(e.currentTarget.value === '' ? null : Number(e.currentTarget.value))}
    >
      <option value="">Any label</option>
      {labels.map((l) => (
        <option key={l.id} value={String(l.id)}>
          {l.name}
        </option>
      ))}
    </select>
  )
}
