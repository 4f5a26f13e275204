// The composer's `/` list of canned replies (issue 14), pure so it runs alike in a
// browser and a unit test: when the list is open, and which replies match what is typed.
import type { CannedReplyDTO } from '../api/canned.ts'

/** How many matches the list shows: more than a glance takes in is a reason to type more. */
export const PICKER_MAX = 8

/**
 * What is typed after a `/` at the very start of the composer, or null when the list has
 * nothing to do (no leading `/`, or a second line: by then it is a message).
 */
export function pickerQuery(text: string): string | null {
  if (!text.startsWith('/') || text.includes('\n')) return null
  return text.slice(1)
}

/**
 * The replies matching the query, by shortcut and by text (case-insensitively): a
 * shortcut that starts with it first, then one that contains it, then a text that does;
 * each group by shortcut.
 */
export function filterCanned(replies: readonly CannedReplyDTO[], query: string, max = PICKER_MAX): CannedReplyDTO[] {
  const q = query.trim().toLowerCase()
  const rank = (r: CannedReplyDTO): number => {
    if (!q) return 0
    const s = r.shortcut.toLowerCase()
    if (s.startsWith(q)) return 0
    if (s.includes(q)) return 1
    return r.text.toLowerCase().includes(q) ? 2 : -1
  }
  return replies
    .map((r) => ({ r, k: rank(r) }))
    .filter((x) => x.k >= 0)
    .sort((a, b) => a.k - b.k || a.r.shortcut.localeCompare(b.r.shortcut))
    .slice(0, max)
    .map((x) => x.r)
}
