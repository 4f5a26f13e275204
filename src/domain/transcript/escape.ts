// The one escape for text placed into the transcript's HTML: every piece of customer,
// agent and note text goes through it, in element content and in quoted attribute
// values alike (so `"` and `'` are escaped too, not only `<` and `&`).
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}

// Control characters (Unicode Cc: C0, DEL, C1) but tab and newline: a terminal reading a
// .txt export must not be steered by an escape sequence a customer typed.
const CONTROLS = /[^\P{Cc}\t\n]/gu

/** Text as the transcript shows it: Windows and old Mac line ends as \n, control characters dropped. */
export function plain(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(CONTROLS, '')
}
