// The canned replies API (issue 14) on the one client (client.ts): the shared replies and
// one's own, their variables, and a reply rendered for a conversation.
import type { CannedReplyDTO, CannedReplyInput, RenderedReply } from '../../../src/domain/canned/canned-replies.ts'
import { request } from './client.ts'

export type { CannedReplyDTO, CannedReplyInput, RenderedReply }

export const cannedApi = {
  list: () => request<{ cannedReplies: CannedReplyDTO[] }>('GET', '/api/canned-replies'),
  variables: () => request<{ variables: string[]; attributes: string[] }>('GET', '/api/canned-replies/variables'),
  create: (body: CannedReplyInput) => request<{ cannedReply: CannedReplyDTO }>('POST', '/api/canned-replies', body),
  update: (id: number, patch: Partial<CannedReplyInput>) =>
    request<{ cannedReply: CannedReplyDTO }>('PATCH', `/api/canned-replies/${id}`, patch),
  remove: (id: number) => request<{ ok: boolean }>('DELETE', `/api/canned-replies/${id}`),
  render: (id: number, conversationId: number) => request<RenderedReply>('POST', '/api/canned-replies/render', { id, conversationId }),
}
