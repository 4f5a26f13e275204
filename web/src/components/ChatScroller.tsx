// A virtualized chat scroller for rows of varying height (5,000 messages stay smooth:
// only the rows near the viewport are in the DOM, each absolutely positioned at its
// offset). Heights start as estimates and are measured once rendered.
//
// Two rules keep the view still while things change around it:
// - at the bottom, it stays at the bottom (new messages scroll into view);
// - elsewhere, the first visible row keeps its place on screen when rows are added above
//   (an older page) or measured rows change height — the agent's reading position
//   never jumps.
import type { ComponentChild } from 'preact'
import { useLayoutEffect, useRef, useState } from 'preact/hooks'

export interface ScrollerRow {
  key: string
}

// Rendered above and below the viewport, in pixels.
const OVERSCAN_PX = 800
// Within this distance of the bottom counts as "at the bottom".
const BOTTOM_SLACK_PX = 32
// Ask for older messages when this close to the top.
const NEAR_TOP_PX = 600

export interface ScrollerHandle {
  scrollToBottom(): void
  /** Brings a row into view, a third from the top, and keeps it there (issue 14: a mentioned note). */
  scrollToKey(key: string): void
}

/** Index of the last offset ≤ y (offsets ascending, offsets[0] = 0). */
function rowAt(offsets: number[], y: number): number {
  let lo = 0
  let hi = offsets.length - 2
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (offsets[mid]! <= y) lo = mid
    else hi = mid - 1
  }
  return Math.max(0, lo)
}

export function ChatScroller<R extends ScrollerRow>(props: {
  rows: R[]
  estimate: (row: R) => number
  /** Rows that hold the reading position when others are inserted above (messages, not separators). */
  canAnchor: (row: R) => boolean
  render: (row: R) => ComponentChild
  onNearTop: () => void
  /** Issue 15: set while newer messages remain to load (a thread opened around a message); the view does not stick to the bottom then. */
  onNearBottom?: () => void
  /** The row a jump highlights (class `focus`). */
  focusKey?: string | null
  onBottomChange: (atBottom: boolean) => void
  handle?: { current: ScrollerHandle | null }
  label: string
}) {
  const { rows } = props
  const box = useRef<HTMLDivElement>(null)
  const heights = useRef(new Map<string, number>())
  const [, setTick] = useState(0)
  const [view, setView] = useState({ top: 0, height: 600 })
  const stick = useRef(true)
  const anchor = useRef<{ key: string; delta: number } | null>(null)
  const offsetsRef = useRef<number[]>([0])
  const rowsRef = useRef(rows)

  const offsets = new Array<number>(rows.length + 1)
  offsets[0] = 0
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    offsets[i + 1] = offsets[i]! + (heights.current.get(r.key) ?? props.estimate(r))
  }
  const total = offsets[rows.length]!
  offsetsRef.current = offsets
  rowsRef.current = rows

  const from = rows.length === 0 ? 0 : rowAt(offsets, Math.max(0, view.top - OVERSCAN_PX))
  const to = rows.length === 0 ? 0 : Math.min(rows.length, rowAt(offsets, view.top + view.height + OVERSCAN_PX) + 1)

  const scrollToBottom = () => {
    const el = box.current
    if (!el) return
    stick.current = true
    el.scrollTop = el.scrollHeight
  }
  const scrollToKey = (key: string) => {
    const el = box.current
    const i = rowsRef.current.findIndex((r) => r.key === key)
    if (!el || i < 0) return
    const delta = -Math.round(el.clientHeight / 3)
    stick.current = false
    anchor.current = { key, delta }
    el.scrollTop = Math.max(0, offsetsRef.current[i]! + delta)
    props.onBottomChange(false)
    setTick((t) => t + 1)
  }
  if (props.handle) props.handle.current = { scrollToBottom, scrollToKey }

  // After every render: measure what is on screen, then put the view where it belongs.
  useLayoutEffect(() => {
    const el = box.current
    if (!el) return
    let changed = false
    for (const node of el.querySelectorAll<HTMLElement>('[data-row]')) {
      const key = node.dataset.row!
      const h = node.offsetHeight
      if (h > 0 && heights.current.get(key) !== h) {
        heights.current.set(key, h)
        changed = true
      }
    }
    if (changed) {
      // Re-render with true heights first; positioning happens on that pass.
      setTick((t) => t + 1)
      return
    }
    if (stick.current && !props.onNearBottom) {
      const want = Math.max(0, total - el.clientHeight)
      if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want
    } else if (anchor.current) {
      const i = rows.findIndex((r) => r.key === anchor.current!.key)
      if (i >= 0) {
        const want = offsets[i]! + anchor.current.delta
        if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want
      }
    }
    // Still near the top after this render (a short history, or the agent waits at the
    // top while pages arrive): load more now, no scroll event will come to ask.
    if (total <= el.clientHeight || el.scrollTop < NEAR_TOP_PX) props.onNearTop()
    if (props.onNearBottom) {
      // Rows added below keep the reading position; the bottom is the bottom again only when the agent goes there.
      const rest = total - el.scrollTop - el.clientHeight
      stick.current = rest <= BOTTOM_SLACK_PX
      if (rest < NEAR_TOP_PX) props.onNearBottom()
    }
  })

  // Re-measure when the box or rendered rows change size (window resize, images).
  useLayoutEffect(() => {
    const el = box.current!
    const ro = new ResizeObserver(() => {
      setView({ top: el.scrollTop, height: el.clientHeight })
      setTick((t) => t + 1)
    })
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const onScroll = () => {
    const el = box.current!
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK_PX
    if (atBottom !== stick.current) props.onBottomChange(atBottom)
    stick.current = atBottom
    const offs = offsetsRef.current
    // Headers and day separators are not anchors: an older page lands below the header
    // and may start the same day, so they stay put while the content moves. Messages do not.
    const rs = rowsRef.current
    let i = rowAt(offs, el.scrollTop)
    while (i < rs.length - 1 && !props.canAnchor(rs[i]!)) i++
    const row = rs[i]
    anchor.current = row ? { key: row.key, delta: el.scrollTop - offs[i]! } : null
    setView({ top: el.scrollTop, height: el.clientHeight })
    if (el.scrollTop < NEAR_TOP_PX) props.onNearTop()
    if (el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_TOP_PX) props.onNearBottom?.()
  }

  return (
    <div ref={box} class="chat-scroll" onScroll={onScroll} role="log" aria-label={props.label} tabIndex={0}>
      <div class="chat-spacer" style={{ height: `${total}px` }}>
        {rows.slice(from, to).map((r, j) => (
          <div
            key={r.key}
            data-row={r.key}
            class={r.key === props.focusKey ? 'chat-row focus' : 'chat-row'}
            style={{ transform: `translateY(${offsets[from + j]}px)` }}
          >
            {props.render(r)}
          </div>
        ))}
      </div>
    </div>
  )
}
