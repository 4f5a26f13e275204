// The composer's canned replies (issue 14), as the composer sees them: a key handler and a
// view to place above the input. The list itself (CannedList.tsx) loads on the first `/`
// typed at the start of a message, so the inbox's initial script stays within its budget
// (test/web-budget.test.ts); until then every key is the composer's.
import type { ComponentType, JSX } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import type { CannedListProps } from './CannedList.tsx'

export interface CannedHook {
  /** Handles the key if the list is open and it is the list's; true then (the composer does nothing more). */
  onKeyDown: (e: KeyboardEvent) => boolean
  /** The list, the render error and the missing-values warning, to place above the input. */
  view: JSX.Element | null
}

let loaded: ComponentType<CannedListProps> | null = null
const load = () => import('./CannedList.tsx').then((m) => (loaded = m.CannedList))

export function useCannedReplies(
  conv: ConversationDTO,
  text: string,
  setText: (v: string) => void,
  input: CannedListProps['input'],
): CannedHook {
  const keys = useRef<((e: KeyboardEvent) => boolean) | null>(null)
  const [List, setList] = useState<ComponentType<CannedListProps> | null>(() => loaded)
  const wanted = text.startsWith('/')
  useEffect(() => {
    if (!wanted || List) return
    let live = true
    load().then(
      (c) => live && setList(() => c),
      () => {},
    )
    return () => void (live = false)
  }, [wanted])
  return {
    onKeyDown: (e) => keys.current?.(e) ?? false,
    view: List ? <List conv={conv} text={text} setText={setText} input={input} keys={keys} /> : null,
  }
}
