// Canned reply actions (issue 14): the only callers of the canned replies API, for the
// composer's `/` list and Settings → Canned replies (client.ts: components → actions → api).
import { ApiError } from '../api/client.ts'
import { cannedApi, type CannedReplyDTO, type CannedReplyInput, type RenderedReply } from '../api/canned.ts'

export type { CannedReplyDTO, CannedReplyInput, RenderedReply }

/** The shared replies and one's own, by shortcut. */
export async function loadCannedReplies(): Promise<CannedReplyDTO[]> {
  return (await cannedApi.list()).cannedReplies
}

/** The variables a reply may use, with the attribute keys the workspace's contacts have. */
export function loadCannedVariables(): Promise<{ variables: string[]; attributes: string[] }> {
  return cannedApi.variables()
}

/** A reply's text for this conversation's contact, with the caller as the agent. */
export function renderCannedReply(id: number, conversationId: number): Promise<RenderedReply> {
  return cannedApi.render(id, conversationId)
}

export async function saveCannedReply(id: number | null, input: CannedReplyInput): Promise<CannedReplyDTO> {
  return (id === null ? await cannedApi.create(input) : await cannedApi.update(id, input)).cannedReply
}

export async function deleteCannedReply(id: number): Promise<void> {
  await cannedApi.remove(id)
}

/** A refusal in words: the server's own message names what to fix (the variable, the shortcut). */
export function cannedError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  if (e.status === 0) return 'No connection to Parley.'
  if (e.code === 'NOT_FOUND') return 'This canned reply no longer exists (or the conversation is not yours to see).'
  if (e.code === 'FORBIDDEN') return 'Only an admin can change shared canned replies.'
  return e.message
}
