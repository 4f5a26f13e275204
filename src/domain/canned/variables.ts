// Canned reply variables (issue 14): `{{contact.first_name}}`, `{{contact.name}}`,
// `{{contact.phone}}`, `{{contact.<attribute>}}` and `{{agent.name}}`, each with an
// optional fallback after a bar: `{{ contact.first_name | there }}`. One pure module for
// the server (it refuses an unknown variable when a reply is saved or rendered) and the
// browser (the settings screen's help line), so the two never disagree about the rules.
//
// Decisions, so nobody has to guess:
// - Whitespace inside the braces is ignored; the namespace and the built-in names are
//   read case-insensitively (`{{ Contact.Name }}`), an attribute's key exactly as stored.
// - `{{` without a closing `}}` (or with another `{{` before it) is malformed: refused
//   like an unknown variable, so half a variable is never sent raw to a customer. Empty
//   braces `{{ }}` are unknown too. A lone `}}` or single braces are ordinary text.
// - name: the contact's name (an agent's edit wins), else its WhatsApp/Messenger profile
//   name; first_name: the first word of that. phone: the stored number, else a WhatsApp
//   contact's wa_id when it is a number (never a Messenger PSID). The same rules as a
//   campaign's parameters (campaign-params.ts).
// - A value that is blank counts as no value. A known variable with no value uses its
//   fallback; without one it renders empty and is listed in `missing`. An explicitly
//   empty fallback (`{{contact.first_name | }}`) renders empty and is not missing.
// - Values are inserted as plain text, never escaped or interpreted: the result is the
//   text of a message, and the browser only ever shows it as text (a textarea's value).

export interface CannedContact {
  name: string | null
  profileName?: string | null
  phone: string | null
  kind?: 'whatsapp' | 'messenger'
  externalId?: string
  attributes?: Record<string, string> | null
}

export interface CannedAgent {
  name: string
}

export interface RenderInput {
  contact: CannedContact
  agent: CannedAgent
}

export interface RenderOptions {
  /**
   * Whether `contact.<key>` names an attribute Parley knows (the server: some contact of
   * the workspace has it). Asked only for keys the contact itself lacks. Default: any key.
   */
  knownAttribute?: (key: string) => boolean
}

export interface Rendered {
  text: string
  /** Known variables with no value and no fallback (rendered empty), e.g. `contact.first_name`. */
  missing: string[]
  /** Unknown or malformed variables (rendered empty, never raw): the caller refuses the text. */
  unknown: string[]
}

/** The built-in variables, as the help line lists them. */
export const BUILTIN_VARIABLES = ['contact.first_name', 'contact.name', 'contact.phone', 'agent.name'] as const
const BUILTIN = new Set<string>(BUILTIN_VARIABLES)

type Part = { kind: 'text'; text: string } | { kind: 'var'; name: string; fallback: string | null } | { kind: 'bad'; raw: string }

const MALFORMED_SHOWN = 40

/** The text as literal parts, variables and malformed openings, in order. */
export function parse(text: string): Part[] {
  const parts: Part[] = []
  let at = 0
  let literal = ''
  while (at < text.length) {
    const open = text.indexOf('{{', at)
    if (open < 0) break
    // `{{{x}}}`: the variable is the innermost pair; the extra braces are text.
    let start = open
    while (text.startsWith('{{', start + 1)) start++
    const close = text.indexOf('}}', start + 2)
    const nextOpen = text.indexOf('{{', start + 2)
    literal += text.slice(at, start)
    if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
      if (literal) parts.push({ kind: 'text', text: literal })
      literal = ''
      const end = nextOpen >= 0 && (close < 0 || nextOpen < close) ? nextOpen : text.length
      const raw = text.slice(start, end).trimEnd()
      parts.push({ kind: 'bad', raw: raw.length > MALFORMED_SHOWN ? `${raw.slice(0, MALFORMED_SHOWN)}…` : raw })
      at = end
      continue
    }
    if (literal) parts.push({ kind: 'text', text: literal })
    literal = ''
    const inner = text.slice(start + 2, close)
    const bar = inner.indexOf('|')
    parts.push({
      kind: 'var',
      name: normalizeName((bar < 0 ? inner : inner.slice(0, bar)).trim()),
      fallback: bar < 0 ? null : inner.slice(bar + 1).trim(),
    })
    at = close + 2
  }
  literal += text.slice(at)
  if (literal) parts.push({ kind: 'text', text: literal })
  return parts
}

/** `Contact . First_Name` → `contact.first_name`; an attribute's key keeps its case. */
function normalizeName(name: string): string {
  const dot = name.indexOf('.')
  if (dot < 0) return name
  const ns = name.slice(0, dot).trim().toLowerCase()
  const rest = name.slice(dot + 1).trim()
  const full = `${ns}.${rest.toLowerCase()}`
  return BUILTIN.has(full) ? full : `${ns}.${rest}`
}

/** The attribute key of `contact.<key>` (not a built-in), else null. */
function attributeKey(name: string): string | null {
  if (!name.startsWith('contact.') || BUILTIN.has(name)) return null
  const key = name.slice('contact.'.length)
  return key && !/[{}]/.test(key) ? key : null
}

function isKnown(name: string, contact: CannedContact | null, opts: RenderOptions): boolean {
  if (BUILTIN.has(name)) return true
  const key = attributeKey(name)
  if (key === null) return false
  if (contact?.attributes && Object.hasOwn(contact.attributes, key)) return true
  return opts.knownAttribute ? opts.knownAttribute(key) : true
}

/**
 * The unknown variables of a text, each once in order of appearance: a well-formed one
 * by its name (`order.total`), a malformed one as written (`{{contact.name`).
 */
export function validate(text: string, opts: RenderOptions = {}): string[] {
  const out = new Set<string>()
  for (const p of parse(text)) {
    if (p.kind === 'bad') out.add(p.raw)
    else if (p.kind === 'var' && !isKnown(p.name, null, opts)) out.add(p.name)
  }
  return [...out]
}

/** What the variable's value is for this contact and agent; null when it has none. */
function variableValue(name: string, { contact, agent }: RenderInput): string | null {
  const fullName = contact.name?.trim() || contact.profileName?.trim() || null
  switch (name) {
    case 'contact.name':
      return fullName
    case 'contact.first_name':
      return fullName ? fullName.split(/\s+/)[0]! : null
    case 'contact.phone': {
      const phone = contact.phone?.trim()
      if (phone) return phone
      return contact.kind === 'whatsapp' && contact.externalId && /^\d+$/.test(contact.externalId) ? contact.externalId : null
    }
    case 'agent.name':
      return agent.name.trim() || null
  }
  const key = attributeKey(name)
  const v = key === null ? undefined : contact.attributes?.[key]
  return typeof v === 'string' && v.trim() ? v.trim() : null
}

/** The text with every variable replaced by its plain-text value (or fallback, or nothing). */
export function render(text: string, input: RenderInput, opts: RenderOptions = {}): Rendered {
  const missing = new Set<string>()
  const unknown = new Set<string>()
  let out = ''
  for (const p of parse(text)) {
    if (p.kind === 'text') out += p.text
    else if (p.kind === 'bad') unknown.add(p.raw)
    else if (!isKnown(p.name, input.contact, opts)) unknown.add(p.name)
    else {
      const v = variableValue(p.name, input)
      if (v !== null) out += v
      else if (p.fallback !== null) out += p.fallback
      else missing.add(p.name)
    }
  }
  return { text: out, missing: [...missing], unknown: [...unknown] }
}

/** An unknown variable as a person reads it: `{{order.total}}`, or a malformed piece as written. */
export function showUnknown(v: string): string {
  return v.startsWith('{{') ? `${v} (not closed with }})` : `{{${v}}}`
}

/** The refusal's words, naming each unknown variable and what is allowed instead. */
export function unknownVariableMessage(unknown: readonly string[]): string {
  const list = unknown.map(showUnknown).join(', ')
  return (
    `Unknown variable${unknown.length === 1 ? '' : 's'} ${list}. ` +
    'Use {{contact.first_name}}, {{contact.name}}, {{contact.phone}}, {{contact.<attribute>}} (an attribute some contact has) ' +
    'or {{agent.name}}, optionally with a fallback: {{contact.first_name | there}}.'
  )
}
