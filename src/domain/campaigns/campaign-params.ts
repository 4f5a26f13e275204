// A campaign's template parameters, per recipient: each placeholder of the approved
// template is mapped to a contact field, an attribute (with an optional fallback) or a
// fixed value. The values then go through TemplateService.build — the same validation
// and rendering as an agent's template reply — so a campaign message and a reply can
// never disagree about what a template needs.
import type { CampaignParams, ParamSource } from '../../events/types.ts'
import type { ContactRow } from '../../store/inbox-store.ts'
import type { TemplateDTO, TemplateSend } from '../sending/templates.ts'
import { Errors } from '../../errors.ts'

export type Resolved = { ok: true; send: TemplateSend } | { ok: false; reason: 'missing_value'; detail: string }

const MAX_FIXED = 1024

export function emptyParams(): CampaignParams {
  return { body: {}, header: {} }
}

/** Only the fields each kind of source has (the HTTP schema does not strip extras). */
export function normalizeParams(p: CampaignParams): CampaignParams {
  const clean = (m: Record<string, ParamSource> | undefined) => {
    const out: Record<string, ParamSource> = {}
    for (const [k, src] of Object.entries(m ?? {})) {
      if (src.from === 'attribute') out[k] = { from: 'attribute', key: src.key, ...(src.fallback ? { fallback: src.fallback } : {}) }
      else if (src.from === 'fixed') out[k] = { from: 'fixed', value: src.value }
      else out[k] = { from: src.from }
    }
    return out
  }
  return { body: clean(p.body), header: clean(p.header) }
}

/** Checks a mapping against the template before the campaign is saved or started. */
export function checkParams(template: TemplateDTO, params: CampaignParams): void {
  if (!template.sendable)
    throw Errors.templateParams('This template needs a media header or a button value, which Parley cannot fill in yet')
  for (const [where, wanted] of [
    ['body', template.bodyParams],
    ['header', template.headerParams],
  ] as const) {
    const given = params[where] ?? {}
    const names = wanted.map((p) => p.name)
    const missing = names.filter((n) => !given[n])
    if (missing.length)
      throw Errors.campaignInvalid(`Map every ${where} parameter of the template: ${missing.map((n) => `{{${n}}}`).join(', ')}`)
    const extra = Object.keys(given).filter((k) => !names.includes(k))
    if (extra.length) throw Errors.campaignInvalid(`The template's ${where} has no parameter ${extra.map((n) => `{{${n}}}`).join(', ')}`)
    for (const [name, src] of Object.entries(given)) {
      if (src.from === 'fixed' && (src.value.trim() === '' || src.value.length > MAX_FIXED)) {
        throw Errors.campaignInvalid(`The fixed value for {{${name}}} must be 1–${MAX_FIXED} characters`)
      }
      if (src.from === 'attribute' && src.key.trim() === '') throw Errors.campaignInvalid(`Name the attribute for {{${name}}}`)
    }
  }
}

function paramValue(src: ParamSource, c: ContactRow): string | null {
  switch (src.from) {
    case 'name':
      return c.name?.trim() || c.profileName?.trim() || null
    case 'first_name': {
      const n = c.name?.trim() || c.profileName?.trim()
      return n ? n.split(/\s+/)[0]! : null
    }
    case 'phone':
      return c.phone ?? c.externalId
    case 'attribute': {
      const v = c.attributes?.[src.key]?.trim()
      return v || src.fallback?.trim() || null
    }
    case 'fixed':
      return src.value
  }
}

function describe(src: ParamSource): string {
  return src.from === 'attribute' ? `attribute "${src.key}"` : src.from === 'first_name' ? 'first name' : src.from
}

/** The template send for one contact, or why it cannot be filled in. */
export function resolveParams(template: { name: string; language: string }, params: CampaignParams, contact: ContactRow): Resolved {
  const out: { body: Record<string, string>; header: Record<string, string> } = { body: {}, header: {} }
  for (const where of ['body', 'header'] as const) {
    for (const [name, src] of Object.entries(params[where] ?? {})) {
      const v = paramValue(src, contact)
      if (v === null) return { ok: false, reason: 'missing_value', detail: `No value for {{${name}}} (${describe(src)})` }
      out[where][name] = v
    }
  }
  return {
    ok: true,
    send: {
      name: template.name,
      language: template.language,
      ...(Object.keys(out.body).length ? { bodyParams: out.body } : {}),
      ...(Object.keys(out.header).length ? { headerParams: out.header } : {}),
    },
  }
}
