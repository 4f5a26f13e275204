// A button that opens a short list of choices (the availability switch, the assignee
// picker; issue 13). Not a native <select>: the page keeps its one select per task
// (the template picker), and the choices can say more than an option can.
import type { ComponentChildren } from 'preact'
import { useRef, useState } from 'preact/hooks'
import { arrowFocus, usePopover } from '../lib/popover.ts'

export interface PickItem {
  key: string
  label: string
  checked: boolean
  onPick: () => void
}

export function PickMenu(props: {
  /** The button's accessible name ("Your availability: Online"). */
  label: string
  class?: string
  title?: string
  children: ComponentChildren
  items: PickItem[]
  /** Called when the menu opens (load what it lists). */
  onOpen?: () => void
  attrs?: Record<string, string | number>
}) {
  const [open, setOpen] = useState(false)
  const box = useRef<HTMLDivElement>(null)
  usePopover(open, () => setOpen(false), box, { button: 'button', first: '[role=menuitemradio][aria-checked=true], [role=menuitemradio]' })
  const onMenuKey = (e: KeyboardEvent) => void arrowFocus(e, box.current, '[role=menuitemradio]')
  return (
    <div class={`pick ${props.class ?? ''}`} ref={box} {...props.attrs}>
      <button
        type="button"
        class="pick-btn"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={props.label}
        title={props.title ?? props.label}
        onClick={() => {
          if (!open) props.onOpen?.()
          setOpen(!open)
        }}
      >
        {props.children}
      </button>
      {open && (
        <div class="pick-menu" role="menu" aria-label={props.label} onKeyDown={onMenuKey}>
          {props.items.map((it) => (
            <button
              type="button"
              role="menuitemradio"
              key={it.key}
              aria-checked={it.checked}
              data-value={it.key}
              onClick={() => {
                setOpen(false)
                it.onPick()
              }}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  )
}
