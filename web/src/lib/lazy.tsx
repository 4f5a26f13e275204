// A module loaded on first use (screens most sessions never open), with the usual
// "Loading…" and "could not be loaded — Try again" states. Keeps the inbox's initial
// JavaScript within its budget (test/web-budget.test.ts).
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'

export interface Lazy<T> {
  /** The module once loaded (then rendering needs no state change at all). */
  current: T | null
  load(): Promise<T>
}

export function lazy<T>(importer: () => Promise<T>): Lazy<T> {
  let pending: Promise<T> | null = null
  const l: Lazy<T> = {
    current: null,
    load: () =>
      (pending ??= importer().then(
        (m) => (l.current = m),
        (err) => {
          // A failed chunk (deploy in between, offline) can be tried again.
          pending = null
          throw err
        },
      )),
  }
  return l
}

/** Renders `children(module)` once the module is loaded; a status line until then. */
export function LazyView<T>({ of, what, children }: { of: Lazy<T>; what: string; children: (m: T) => ComponentChildren }) {
  const [, setLoaded] = useState(of.current !== null)
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    if (of.current || failed) return
    let live = true
    of.load().then(
      () => live && setLoaded(true),
      () => live && setFailed(true),
    )
    return () => void (live = false)
  }, [failed])
  if (of.current) return <>{children(of.current)}</>
  return (
    <div class="splash" role={failed ? 'alert' : 'status'}>
      {failed ? (
        <p>
          The {what} could not be loaded.{' '}
          <button type="button" class="link" onClick={() => setFailed(false)}>
            Try again
          </button>
        </p>
      ) : (
        `Loading ${what}…`
      )}
    </div>
  )
}

/**
 * A control loaded on first render (a header's menus): nothing until its module is
 * there — a moment after the first conversation opens — then the control itself.
 */
export function LazyInline<T>({ of, children }: { of: Lazy<T>; children: (m: T) => ComponentChildren }) {
  const [, setLoaded] = useState(of.current !== null)
  useEffect(() => {
    if (of.current) return
    let live = true
    // A failed load leaves the control out; the next conversation opened tries again.
    of.load().then(
      () => live && setLoaded(true),
      () => {},
    )
    return () => void (live = false)
  }, [])
  return of.current ? <>{children(of.current)}</> : null
}
