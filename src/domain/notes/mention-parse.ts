// Who a note names (issue 14), pure: `@` followed by a person's full name, at the start
// of the text or after anything but a letter or digit (so `ana@example.com` names
// nobody), and ending where the name ends (`@Ana` is not `@Anabel`). Case does not
// matter; the composer inserts names as the team list spells them.

const WORDISH = /[\p{L}\p{N}_]/u

/** The lower-cased names (of `names`) that the text mentions with `@`. */
export function mentionedNames(text: string, names: readonly string[]): Set<string> {
  const lower = text.toLowerCase()
  // Longest first: `@Ana Lima` is Ana Lima, not Ana followed by " Lima".
  const wanted = [...new Set(names.map((n) => n.trim().toLowerCase()).filter(Boolean))].sort((a, b) => b.length - a.length)
  const found = new Set<string>()
  for (let i = lower.indexOf('@'); i >= 0; i = lower.indexOf('@', i + 1)) {
    if (i > 0 && WORDISH.test(lower[i - 1]!)) continue
    for (const name of wanted) {
      if (!lower.startsWith(name, i + 1)) continue
      const after = lower[i + 1 + name.length]
      if (after !== undefined && WORDISH.test(after)) continue
      found.add(name)
      break
    }
  }
  return found
}
