// Builders for the webhooks a coexistence account sends besides `messages` (issue 11),
// from the realistic fixtures in test/fixtures: the business's own messages sent from
// the WhatsApp Business app (smb_message_echoes) and customers' marketing preferences
// (user_preferences).
import { readFileSync } from 'node:fs'
import { ts, wamid } from './wa.ts'

type Obj = Record<string, any>

/** A fixture from test/fixtures with its one echo or preference changed by `patch`. */
export function fixture(name: string, patch: Obj = {}): Obj {
  const body = JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as Obj
  const value = body.entry[0].changes[0].value as Obj
  const list = (value.message_echoes ?? value.user_preferences) as Obj[]
  Object.assign(list[0]!, patch)
  if (patch.wa_id && value.contacts) value.contacts[0].wa_id = patch.wa_id
  return body
}

/** The business wrote `text` to `to` from the phone (Meta's `to` carries a "+"). */
export const echo = (to: string, text: string, extra: Obj = {}) =>
  fixture('wa-smb-echo-text', { to: `+${to}`, id: wamid('echo'), timestamp: ts(), text: { body: text }, ...extra })

export const echoId = (body: Obj): string => body.entry[0].changes[0].value.message_echoes[0].id

/** `waId` stopped or resumed marketing messages at `at` (Unix seconds); `name` from contacts[], if any. */
export function preference(waId: string, value: 'stop' | 'resume', at: number, name?: string): Obj {
  const body = fixture(value === 'stop' ? 'wa-user-preferences-stop' : 'wa-user-preferences-resume', { wa_id: waId, timestamp: at })
  const v = body.entry[0].changes[0].value as Obj
  if (name === undefined) delete v.contacts
  else v.contacts[0].profile.name = name
  return body
}
