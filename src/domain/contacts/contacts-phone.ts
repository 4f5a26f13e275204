// Phone numbers from CSV files → E.164 digits (the form WhatsApp's wa_id takes, no "+").
//
// No maintained phone library is installed (libphonenumber-js would know each
// country's lengths and prefixes), so the rule here is deliberately conservative: a
// number is accepted only when its country code is certain, because a guessed one
// messages a stranger (Meta itself prepends the business number's country code to a
// number sent without "+": meta-platform-facts.md §3).
//
//   1. Spaces, dots, dashes, slashes and parentheses are dropped ("+49 (151) 234-56").
//   2. "+" or "00" starts an international number: the digits after it are kept.
//   3. A single leading "0" is a national trunk prefix: it needs the import's default
//      country code (0151 234 → 49151234); without one the row is invalid.
//   4. Digits without any prefix are taken as already international (wa_id exports,
//      "4915123456789") only when 11–15 long; with a default country code, a number
//      that does not start with it gets it prepended (Meta's own rule). Shorter bare
//      numbers are ambiguous ("5551234567": US national or Brazil?) and invalid.
//   5. The result must be 8–15 digits (E.164's maximum is 15) and must not start with 0.
// Anything else (letters, extensions, "*", "#") is invalid, with the reason.

export type PhoneResult = { ok: true; digits: string } | { ok: false; reason: string }

const SEPARATORS = /[\s\u00a0.\-/()]/g
const MIN_DIGITS = 8
const MAX_DIGITS = 15
const MIN_BARE_DIGITS = 11

export function normalizeCountryCode(cc: string | undefined | null): string | undefined {
  if (!cc) return undefined
  const d = cc.trim().replace(/^\+|^00/, '')
  return /^[1-9]\d{0,2}$/.test(d) ? d : undefined
}

export function normalizePhone(raw: string, defaultCountryCode?: string): PhoneResult {
  const input = raw.trim()
  if (input === '') return { ok: false, reason: 'empty' }
  const s = input.replace(SEPARATORS, '')
  const cc = normalizeCountryCode(defaultCountryCode)
  let digits: string
  if (s.startsWith('+')) {
    digits = s.slice(1)
  } else if (s.startsWith('00')) {
    digits = s.slice(2)
  } else if (s.startsWith('0')) {
    if (!cc) return { ok: false, reason: 'national number (leading 0): add the country code or choose a default country code' }
    digits = cc + s.slice(1)
  } else if (/^\d+$/.test(s) && cc) {
    digits = s.startsWith(cc) && s.length >= MIN_BARE_DIGITS ? s : cc + s
  } else {
    digits = s
    if (/^\d+$/.test(s) && s.length < MIN_BARE_DIGITS) {
      return { ok: false, reason: 'no country code: write it as +<country code><number> or choose a default country code' }
    }
  }
  if (!/^\d+$/.test(digits)) return { ok: false, reason: 'not a phone number (only digits, spaces, + ( ) - . / are allowed)' }
  if (digits.startsWith('0')) return { ok: false, reason: 'a country code never starts with 0' }
  if (digits.length < MIN_DIGITS)
    return { ok: false, reason: `too short (${digits.length} digits; at least ${MIN_DIGITS} with the country code)` }
  if (digits.length > MAX_DIGITS) return { ok: false, reason: `too long (${digits.length} digits; E.164 allows ${MAX_DIGITS})` }
  return { ok: true, digits }
}
