// Exporting a transcript (issue 15): the only caller of the transcript API. Loaded with
// the header's menu (components/TranscriptMenu.tsx), never with the inbox. The file is
// fetched by the app's client (the session cookie, never a token in a URL) and handed to
// the browser's downloads through a Blob URL.
import { transcriptApi, type TranscriptFormat } from '../api/transcript.ts'

// Long enough for the browser to start the download from the URL; then it is let go.
const REVOKE_AFTER_MS = 60_000

export async function exportTranscript(conversationId: number, o: { format: TranscriptFormat; notes: boolean }): Promise<string> {
  const { blob, filename } = await transcriptApi.file(conversationId, o)
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.hidden = true
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS)
  return filename
}
