// A conversation's transcript (issue 15) on the one client (client.ts): the file and the
// name the server gives it. Authenticated by the session cookie like every call.
import { download, qs } from './client.ts'

export type TranscriptFormat = 'html' | 'text'

/** The name in `attachment; filename="…"`, when the server said one. */
const FILENAME = /filename="([^"]+)"/

export const transcriptApi = {
  file: async (conversationId: number, o: { format: TranscriptFormat; notes: boolean }): Promise<{ blob: Blob; filename: string }> => {
    const res = await download(`/api/conversations/${conversationId}/transcript${qs({ format: o.format, notes: o.notes })}`)
    const named = FILENAME.exec(res.headers.get('content-disposition') ?? '')?.[1]
    return { blob: await res.blob(), filename: named ?? `conversation-${conversationId}.${o.format === 'html' ? 'html' : 'txt'}` }
  },
}
