// Keyset page cursors, one format for every list: the sort key of a page's last row
// (numbers joined by ':'), base64url so clients treat it as opaque. Lists whose key is
// one id (contacts, campaigns, recipients, messages) carry just that id.
import { Errors } from '../errors.ts'

export function encodeCursor(parts: number[]): string {
  return Buffer.from(parts.join(':')).toString('base64url')
}

/** The `n` numbers of a cursor; anything else is a 400 BAD_CURSOR. */
export function decodeCursor(raw: string, n: number): number[] {
  const parts = Buffer.from(raw, 'base64url').toString('utf8').split(':').map(Number)
  if (parts.length !== n || parts.some((p) => !Number.isSafeInteger(p))) throw Errors.badCursor()
  return parts
}

export const cursorOf = (id: number): string => encodeCursor([id])

/** The id of a one-id cursor (never negative). */
export function idFromCursor(raw: string): number {
  const id = decodeCursor(raw, 1)[0]!
  if (id < 0) throw Errors.badCursor()
  return id
}

/**
 * One page from `limit + 1` rows read: the first `limit`, and a cursor at the last of
 * them when the extra row shows there is more.
 */
export function keysetPage<T>(rows: T[], limit: number, keyOf: (last: T) => number[]): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return { page, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null }
}
