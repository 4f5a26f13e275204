// The conversation header's label picker (issue 14): a button opening a searchable list of
// the workspace's labels with a checkbox each; every tick sets the conversation's labels at
// once (PUT …/labels with the whole set). Keyboard: the search box has focus on opening,
// ↓/↑ move through the list, Space ticks, Enter in the search ticks the first match, Esc
// closes and gives focus back to the button.
import { useEffect, useRef, useState } from 'preact/hooks'
import { arrowFocus, usePopover } from '../lib/popover.ts'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { setConversationLabels } from '../state/label-edit.ts'
import { Tag } from 'lucide'
import { Icon } from './Icon.tsx'

export function LabelPicker({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const [open, setOpen] = useState(false)
  const [query, setQuery] = useState('')
  const box = useRef<HTMLDivElement>(null)
  const all = app.labels.list.value ?? []
  const carried = new Set(app.labels.resolve(conv.labels).map((l) => l.id))
  const q = query.trim().toLowerCase()
  const shown = q ? all.filter((l) => l.name.toLowerCase().includes(q)) : all

  usePopover(open, () => setOpen(false), box, { button: '.pick-btn', first: '.label-search' })
  // Another conversation: the list closes.
  useEffect(() => setOpen(false), [conv.id])

  const toggle = (id: number) => {
    const next = new Set(carried)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    void setConversationLabels(app.labels, conv.id, [...next])
  }
  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement
    if (e.key === 'Enter' && target.classList.contains('label-search')) {
      e.preventDefault()
      if (shown[0]) toggle(shown[0].id)
      return
    }
    arrowFocus(e, box.current, '.label-search, .label-option')
  }

  return (
    <div class="pick label-picker" ref={box}>
      <button
        type="button"
        class="pick-btn"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-label="Labels"
        title="Labels"
        onClick={() => {
          if (!open) void app.labels.load()
          setQuery('')
          setOpen(!open)
        }}
      >
        <Icon icon={Tag} size={15} />
        <span class="pick-text">Labels</span>
        <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div class="pick-menu" role="dialog" aria-label="Labels of this conversation" onKeyDown={onKey}>
          <input
            type="search"
            class="label-search"
            placeholder="Find a label"
            aria-label="Find a label"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
          {shown.map((l) => (
            <label key={l.id} data-label-id={l.id}>
              <input type="checkbox" class="label-option" checked={carried.has(l.id)} onChange={() => toggle(l.id)} />
              <span class="label-dot" style={{ background: l.color }} aria-hidden="true" />
              <span class="label-name">{l.name}</span>
            </label>
          ))}
          {shown.length === 0 && (
            <p class="hint">{all.length === 0 ? 'No labels yet. An admin creates them in Settings → Labels.' : 'No label matches.'}</p>
          )}
        </div>
      )}
    </div>
  )
}
