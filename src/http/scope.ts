// What a route may touch for the person calling it (issue 13): a conversation, its
// messages and its media belong to a channel, and outside the caller's channels they
// answer 404 exactly as if they did not exist — never 403, which would confirm them.
import { type Access, canSeeChannel } from '../domain/accounts/access.ts'
import { Errors } from '../errors.ts'
import type { MediaRow } from '../store/media.ts'
import type { Services } from '../services.ts'

/** The conversation's channel when the caller may see it; else 404 (also for another workspace's). */
export function conversationInScope(services: Pick<Services, 'store'>, access: Access, conversationId: number): number {
  const channelId = services.store.runNow(services.store.conversations.channelOf(access.workspaceId, conversationId))
  if (channelId === undefined || !canSeeChannel(access, channelId)) throw Errors.notFound('Conversation')
  return channelId
}

/**
 * A stored file belongs to the message that carries it, so to that message's channel.
 * One not sent yet (an agent's upload) is its uploader's (and an admin's); the uploader
 * keeps their own file even once it went out on a channel they later left.
 */
export function canSeeMedia(services: Pick<Services, 'store'>, access: Access, row: MediaRow): boolean {
  if (access.channelIds === null) return true
  if (row.uploadedBy !== null && row.uploadedBy === access.userId) return true
  if (row.messageId !== null) {
    const message = services.store.runNow(services.store.messages.messageRowById(row.messageId))
    return message !== undefined && canSeeChannel(access, message.channelId)
  }
  return row.direction === 'in' && row.channelId !== null && canSeeChannel(access, row.channelId)
}
