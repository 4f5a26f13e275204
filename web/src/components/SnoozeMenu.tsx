// The conversation header's status (issue 14): Open / Pending / Resolved, a Snooze menu
// (1 hour, tomorrow 9:00 and next Monday 9:00 on the workspace's clock, each labelled
// with the time it is here, or a chosen time), and for a snoozed conversation a bar
// "Snoozed until …" with Unsnooze. The change shows at once; the server's line and
// events confirm it for everyone.
import { useRef, useState } from 'preact/hooks'
import { arrowFocus, usePopover } from '../lib/popover.ts'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { clock } from '../lib/clock.ts'
import { snoozeTimeLabel } from '../state/snooze.ts'
import { browserTimeZone, fromLocalInput, localInputValue, snoozeChoices } from '../state/snooze-choices.ts'
import { PickMenu } from './PickMenu.tsx'

const STATUSES = [
  ['open', 'Open'],
  ['pending', 'Pending'],
  ['resolved', 'Resolved'],
] as const

const STATUS_NAMES: Record<ConversationDTO['status'], string> = {
  open: 'Open',
  pending: 'Pending',
  snoozed: 'Snoozed',
  resolved: 'Resolved',
}

/** The header's pair, kept together when the header wraps. */
export function StatusControls({ conv }: { conv: ConversationDTO }) {
  return (
    <div class="status-controls">
      <StatusMenu conv={conv} />
      <SnoozeMenu conv={conv} />
    </div>
  )
}

/** Open / Pending / Resolved; a snoozed conversation reads "Snoozed" (any choice ends the snooze). */
export function StatusMenu({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const name = STATUS_NAMES[conv.status] ?? conv.status
  return (
    <PickMenu
      class="status-picker"
      label={`Status: ${name}. Change status`}
      attrs={{ 'data-status': conv.status }}
      items={STATUSES.map(([status, label]) => ({
        key: status,
        label,
        checked: conv.status === status,
        onPick: () => void app.setConversationStatus(conv.id, status),
      }))}
    >
      <span class="pick-text">{name}</span>
      <span aria-hidden="true">▾</span>
    </PickMenu>
  )
}

/** Snooze: three presets and "Pick a time…". */
export function SnoozeMenu({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const [open, setOpen] = useState(false)
  const [picking, setPicking] = useState(false)
  const [picked, setPicked] = useState('')
  const box = useRef<HTMLDivElement>(null)
  const now = clock.value
  usePopover(open, () => setOpen(false), box, { button: '.snooze-btn', first: '[role=menuitem]' })

  // Computed when shown, from this moment: the clock signal only ticks every few seconds.
  const at = open ? Date.now() : now
  const choices = snoozeChoices(at, app.workspaceTimeZone.value ?? browserTimeZone())
  const snooze = (until: number) => {
    setOpen(false)
    setPicking(false)
    void app.snooze(conv.id, until)
  }
  const pickedAt = fromLocalInput(picked)
  const pickedOk = Number.isFinite(pickedAt) && pickedAt > at
  const onMenuKey = (e: KeyboardEvent) => void arrowFocus(e, box.current, '[role=menuitem]')

  return (
    <div class="pick snooze" ref={box}>
      <button
        type="button"
        class="pick-btn snooze-btn"
        aria-haspopup="menu"
        aria-expanded={open}
        title="Snooze: out of Open until a time, or until the customer writes"
        onClick={() => {
          if (!open) void app.loadWorkspaceTimeZone()
          setPicking(false)
          setOpen(!open)
        }}
      >
        <span class="pick-text">Snooze</span>
        <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div class="pick-menu snooze-menu" role="menu" aria-label="Snooze until" onKeyDown={onMenuKey}>
          {choices.map((c) => (
            <button type="button" role="menuitem" key={c.key} data-snooze={c.key} data-until={c.until} onClick={() => snooze(c.until)}>
              <span>{c.label}</span> <span class="snooze-when">{snoozeTimeLabel(c.until, at)}</span>
            </button>
          ))}
          <button type="button" role="menuitem" data-snooze="pick" aria-expanded={picking} onClick={() => setPicking(!picking)}>
            Pick a time…
          </button>
          {picking && (
            <form
              class="snooze-pick"
              onSubmit={(e) => {
                e.preventDefault()
                if (pickedOk) snooze(pickedAt)
              }}
            >
              <input
                type="datetime-local"
                aria-label="Snooze until (your local time)"
                value={picked}
                min={localInputValue(at + 60_000)}
                onInput={(e) => setPicked(e.currentTarget.value)}
              />
              <button type="submit" disabled={!pickedOk}>
                Snooze
              </button>
            </form>
          )}
        </div>
      )}
    </div>
  )
}

/** Below the header of a snoozed conversation: until when, and Unsnooze (back to Open). */
export function SnoozedBar({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const now = clock.value
  if (conv.status !== 'snoozed' || conv.snoozedUntil === null) return null
  return (
    <div class="snoozed-bar" role="status" data-snoozed-until={conv.snoozedUntil}>
      <span>
        Snoozed until{' '}
        <time dateTime={new Date(conv.snoozedUntil).toISOString()} title={new Date(conv.snoozedUntil).toLocaleString()}>
          {snoozeTimeLabel(conv.snoozedUntil, now)}
        </time>
        . It comes back then, or when the customer writes.
      </span>
      <button type="button" class="unsnooze" onClick={() => void app.setConversationStatus(conv.id, 'open')}>
        Unsnooze
      </button>
    </div>
  )
}
