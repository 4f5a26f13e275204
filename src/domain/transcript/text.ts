// The plain-text transcript: a header, a line for each day, and a block per message —
// "09:41  Maria" then its words indented — readable in any editor and by `grep`.
import { plain } from './escape.ts'
import { wallClock, type TranscriptEntry } from './entries.ts'
import type { TranscriptHeader, TranscriptRenderer } from './header.ts'

const indent = (s: string): string =>
  plain(s)
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')

export function textRenderer(timeZone: string): TranscriptRenderer {
  let day = ''
  return {
    contentType: 'text/plain; charset=utf-8',
    extension: 'txt',
    head(h: TranscriptHeader): string {
      const at = wallClock(h.timeZone, h.exportedAt)
      return [
        `Conversation with ${plain(h.contact)}`,
        `Contact: ${plain(h.contact)} (${plain(h.address)})`,
        `Channel: ${plain(h.channel)}`,
        `Conversation: #${h.conversationId}`,
        `Exported: ${at.date} ${at.time} (${h.timeZone}) by ${plain(h.exportedBy)}`,
        `Internal notes: ${h.notes ? 'included' : 'not included'}`,
        `Times are in ${h.timeZone}.`,
        '',
      ].join('\n')
    },
    entry(e: TranscriptEntry): string {
      const t = wallClock(timeZone, e.at)
      let out = ''
      if (t.date !== day) {
        day = t.date
        out += `\n== ${t.weekday}, ${t.date} ==\n`
      }
      if (e.speaker === 'system') return `${out}\n${t.time}  -- ${plain(e.text ?? '')} --\n`
      out += `\n${t.time}  ${plain(e.who)}${e.marks.length ? `  [${e.marks.map(plain).join('; ')}]` : ''}\n`
      if (e.replyTo) out += `    > ${plain(e.replyTo)}\n`
      if (e.kind) out += `${indent(e.kind)}\n`
      if (e.text) out += `${indent(e.text)}\n`
      return out
    },
    foot(count: number): string {
      return `\n-- End of transcript: ${count} ${count === 1 ? 'entry' : 'entries'} --\n`
    },
  }
}
