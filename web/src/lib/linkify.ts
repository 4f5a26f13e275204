// Splits customer text into plain runs and http(s) links. The result is rendered as
// text nodes and <a> elements by Preact — never as HTML — so nothing in the text can
// become markup, and only http(s) URLs ever become an href (no javascript:, data:).

export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string }

// www.-prefixed hosts are links too; trailing punctuation is not part of the URL.
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi
const TRAILING = /[.,;:!?)\]}'"]+$/

export function linkify(text: string): Segment[] {
  const out: Segment[] = []
  let last = 0
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0]
    const trail = TRAILING.exec(raw)
    if (trail) raw = raw.slice(0, raw.length - trail[0].length)
    const start = m.index
    const href = safeHref(raw)
    if (!href) continue
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) })
    out.push({ kind: 'link', text: raw, href })
    last = start + raw.length
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) })
  return out
}

export function safeHref(raw: string): string | null {
  try {
    const u = new URL(/^www\./i.test(raw) ? `https://${raw}` : raw)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}
