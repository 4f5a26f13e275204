// What a route may touch for the person calling it (issue 13): a conversation, its
// messages and its media belong to a channel, and outside the caller's channels they
// answer 404 exactly as if they did not exist — never 403, which would confirm them.
import { type Access, canSeeChannel } from '../domain/accounts/access.ts'
import { conversationInScopeUnit } from '../domain/inbox/conversation-status.ts'
import type { MediaRow } from '../store/media.ts'
import type { Services } from '../services.ts'

/**
 * The conversation's channel when the caller may see it; else 404 (also for another
 * workspace's). Read as a unit (issue 17); an action that writes checks it inside its own
 * unit with conversationInScopeUnit instead.
 */
export function conversationInScope(services: Pick<Services, 'store' | 'units'>, access: Access, conversationId: number): Promise<number> {
  return services.units.read(() => conversationInScopeUnit(services.store, access, conversationId))
}

/**
 * A stored file belongs to the message that carries it, so to that message's channel.
 * One not sent yet (an agent's upload) is its uploader's (and an admin's); the uploader
 * keeps their own file even once it went out on a channel they later left.
 */
export async function canSeeMedia(services: Pick<Services, 'store' | 'units'>, access: Access, row: MediaRow): Promise<boolean> {
  if (access.channelIds === null) return true
  if (row.uploadedBy !== null && row.uploadedBy === access.userId) return true
  const messageId = row.messageId
  if (messageId !== null) {
    const { messages } = services.store
    const message = await services.units.read(() => messages.messageRowById(messageId))
    return message !== undefined && canSeeChannel(access, message.channelId)
  }
  return row.direction === 'in' && row.channelId !== null && canSeeChannel(access, row.channelId)
}
