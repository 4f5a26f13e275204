// One page of a conversation's history (GET /api/conversations/:id/messages), in one of
// three directions over the same keyset on message id:
//   - the newest page (no cursor), or the page OLDER than `cursor` (the chat scrolled up);
//   - the page NEWER than `after` (issue 15: scrolling down from a search result);
//   - the page AROUND one message (issue 15: a search result opens there).
// Every page reads oldest to newest, as a chat does; `nextCursor` pages older from its
// oldest message and `newerCursor` pages newer from its newest, each null when there is
// nothing more that way (`hasNewer` says the same as a boolean).
import type { MessageDTO } from '../events/types.ts'
import type { MessagesRepo } from '../store/messages.ts'
import type { Q } from '../store/unit.ts'
import { cursorOf, keysetPage } from './paging.ts'

export type MessagePageAt = { around: number } | { after: number } | { before?: number }

export interface MessagePage {
  messages: MessageDTO[]
  nextCursor: string | null
  newerCursor: string | null
  hasNewer: boolean
}

/** The page asked for (a unit of work, issue 17); undefined when `around` names no message of this conversation. */
export function* readMessagePage(
  repo: MessagesRepo,
  ws: number,
  conversationId: number,
  limit: number,
  at: MessagePageAt,
): Q<MessagePage | undefined> {
  if ('around' in at) return yield* around(repo, ws, conversationId, limit, at.around)
  if ('after' in at) {
    const rows = yield* repo.listMessageDTOsAfter(ws, conversationId, { limit: limit + 1, afterId: at.after })
    const messages = rows.slice(0, limit)
    const newest = messages[messages.length - 1]
    const newerCursor = rows.length > limit && newest ? cursorOf(newest.id) : null
    // Older than an `after` page there is at least the message its cursor was taken at.
    return { messages, nextCursor: messages[0] ? cursorOf(messages[0].id) : null, newerCursor, hasNewer: newerCursor !== null }
  }
  const rows = yield* repo.listMessageDTOs(ws, conversationId, { limit: limit + 1, beforeId: at.before })
  // Newest first as read (the cursor is at the page's oldest); the chat reads oldest to newest.
  const { page, nextCursor } = keysetPage(rows, limit, (oldest) => [oldest.id])
  const messages = page.reverse()
  // The newest page is the live end; a page further back has newer messages after it (unless all were deleted notes).
  let newerCursor: string | null = null
  if (at.before !== undefined) {
    const top = messages[messages.length - 1]?.id ?? at.before - 1
    if (yield* repo.hasMessageAfter(ws, conversationId, top)) newerCursor = cursorOf(top)
  }
  return { messages, nextCursor, newerCursor, hasNewer: newerCursor !== null }
}

/**
 * About half the page before the message and half after it; when one side runs out
 * (the message is among the first or the last), the other side fills the page.
 */
function* around(repo: MessagesRepo, ws: number, conversationId: number, limit: number, id: number): Q<MessagePage | undefined> {
  const target = yield* repo.messageDTOIn(ws, conversationId, id)
  if (!target) return undefined
  // `limit` rows each way: enough to fill the page from one side and to know whether more lie beyond.
  const older = yield* repo.listMessageDTOs(ws, conversationId, { limit, beforeId: id })
  const newer = yield* repo.listMessageDTOsAfter(ws, conversationId, { limit, afterId: id })
  let before = Math.floor((limit - 1) / 2)
  let after = limit - 1 - before
  if (older.length < before) after += before - older.length
  if (newer.length < after) before += after - newer.length
  before = Math.min(before, older.length)
  after = Math.min(after, newer.length)
  const messages = [...older.slice(0, before).reverse(), target, ...newer.slice(0, after)]
  const nextCursor = older.length > before ? cursorOf(messages[0]!.id) : null
  const newerCursor = newer.length > after ? cursorOf(messages[messages.length - 1]!.id) : null
  return { messages, nextCursor, newerCursor, hasNewer: newerCursor !== null }
}
