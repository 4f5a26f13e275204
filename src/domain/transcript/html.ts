// The HTML transcript: one self-contained page (inline CSS, no scripts, nothing loaded
// from anywhere: its CSP meta tag forbids it even if a file is opened from disk), laid
// out to print well. Every piece of customer, agent and note text goes through
// escapeHtml; nothing here builds markup from anything else.
import { escapeHtml, plain } from './escape.ts'
import { wallClock, type TranscriptEntry } from './entries.ts'
import type { TranscriptHeader, TranscriptRenderer } from './header.ts'

const esc = (s: string): string => escapeHtml(plain(s))

/** No scripts, no fetches, no forms, no frames: only the page's own inline style. */
export const TRANSCRIPT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1rem; }
h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 1rem; }
dt { color: #59636e; } dd { margin: 0; }
h2 { font-size: .95rem; color: #59636e; text-align: center; margin: 1.5rem 0 .5rem; border-bottom: 1px solid #eaeef2; }
.msg { margin: .5rem 0; padding: .4rem .7rem; border-left: 3px solid #d0d7de; break-inside: avoid; page-break-inside: avoid; }
.msg.customer { border-color: #0969da; }
.msg.agent, .msg.phone, .msg.campaign, .msg.automatic { border-color: #1a7f37; background: #f6fff8; }
.msg.note { border-color: #bf8700; background: #fff8c5; }
.meta { font-size: .85rem; color: #59636e; }
.who { font-weight: 600; color: #1f2328; }
.kind { font-style: italic; margin: .15rem 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .15rem 0; }
.quote { border-left: 2px solid #d0d7de; padding-left: .5rem; color: #59636e; margin: .15rem 0; }
.mark { color: #cf222e; font-weight: 600; }
.system { text-align: center; color: #59636e; font-size: .85rem; margin: .4rem 0; break-inside: avoid; }
footer { margin-top: 2rem; border-top: 1px solid #d0d7de; color: #59636e; font-size: .85rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .msg { background: none !important; }
  h2 { break-after: avoid; page-break-after: avoid; }
  @page { margin: 1.5cm; }
}
`

export function htmlRenderer(timeZone: string): TranscriptRenderer {
  let day = ''
  return {
    contentType: 'text/html; charset=utf-8',
    extension: 'html',
    head(h: TranscriptHeader): string {
      const at = wallClock(h.timeZone, h.exportedAt)
      const title = `Conversation with ${h.contact}`
      const row = (k: string, v: string) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`
      return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(TRANSCRIPT_CSP)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<dl>
${row('Contact', `${h.contact} (${h.address})`)}
${row('Channel', h.channel)}
${row('Conversation', `#${h.conversationId}`)}
${row('Exported', `${at.date} ${at.time} (${h.timeZone}) by ${h.exportedBy}`)}
${row('Internal notes', h.notes ? 'included' : 'not included')}
</dl>
</header>
<main>
`
    },
    entry(e: TranscriptEntry): string {
      const t = wallClock(timeZone, e.at)
      let out = ''
      if (t.date !== day) {
        day = t.date
        out += `<h2>${esc(`${t.weekday}, ${t.date}`)}</h2>\n`
      }
      const time = `<time datetime="${esc(new Date(e.at).toISOString())}">${esc(t.time)}</time>`
      if (e.speaker === 'system') return `${out}<p class="system" data-id="${e.id}">${esc(e.text ?? '')} · ${time}</p>\n`
      out += `<article class="msg ${e.speaker}" data-id="${e.id}">`
      out += `<div class="meta">${time} · <span class="who">${esc(e.who)}</span>`
      for (const m of e.marks) out += ` · <span class="mark">${esc(m)}</span>`
      out += '</div>'
      if (e.replyTo) out += `<div class="quote">${esc(e.replyTo)}</div>`
      if (e.kind) out += `<p class="kind">${esc(e.kind)}</p>`
      if (e.text) out += `<p class="text">${esc(e.text)}</p>`
      return `${out}</article>\n`
    },
    foot(count: number): string {
      return `</main>
<footer><p>End of transcript: ${count} ${count === 1 ? 'entry' : 'entries'}.</p></footer>
</body>
</html>
`
    },
  }
}
