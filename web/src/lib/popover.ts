// What every small menu of the page does (the availability switch, the assignee picker,
// the label picker, the snooze menu): a press outside closes it, Esc closes it (not the
// conversation under it) and gives the focus back to its button, and ↑/↓ move between
// its items. One hook, so the menus cannot drift apart.
import type { RefObject } from 'preact'
import { useEffect } from 'preact/hooks'

export function usePopover(
  open: boolean,
  close: () => void,
  box: RefObject<HTMLElement | null>,
  /** `button`: what gets the focus back on Esc; `first`: what gets it when the menu opens. */
  focus: { button: string; first: string },
): void {
  useEffect(() => {
    if (!open) return
    const away = (e: Event) => {
      if (box.current && !box.current.contains(e.target as Node)) close()
    }
    const esc = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return
      e.stopPropagation()
      close()
      box.current?.querySelector<HTMLElement>(focus.button)?.focus()
    }
    document.addEventListener('pointerdown', away)
    document.addEventListener('keydown', esc, true)
    box.current?.querySelector<HTMLElement>(focus.first)?.focus()
    return () => {
      document.removeEventListener('pointerdown', away)
      document.removeEventListener('keydown', esc, true)
    }
  }, [open])
}

/** ↑/↓ move the focus between the menu's `items` (wrapping); true when the key was one of them. */
export function arrowFocus(e: KeyboardEvent, box: HTMLElement | null, items: string): boolean {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return false
  e.preventDefault()
  const all = [...(box?.querySelectorAll<HTMLElement>(items) ?? [])]
  const i = all.indexOf(document.activeElement as HTMLElement)
  all[(i + (e.key === 'ArrowDown' ? 1 : all.length - 1)) % all.length]?.focus()
  return true
}
