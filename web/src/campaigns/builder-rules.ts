// The campaign builder's rules, apart from its markup: which template it starts with,
// when there is something to preview, and how to name the audience in a confirmation.
import type { CampaignAudience, CampaignParams } from '../../../src/events/types.ts'
import type { TemplateDTO } from '../api/campaigns.ts'

/** A language tag's primary subtag: `en_US`, `en-GB` and `en` are all `en`. */
export const primaryLanguage = (tag: string) => tag.split(/[-_]/)[0]!.toLowerCase()

/**
 * The template a new campaign starts with (issue 11 point 8: it was the alphabetically
 * first, a French one, for everybody). Parley has no workspace language setting, so the
 * browser's language stands for it, then English: the first approved template in that
 * language, else the first one.
 */
export function defaultTemplate<T extends Pick<TemplateDTO, 'language' | 'status'>>(
  templates: T[],
  browserLanguage: string | undefined,
): T | undefined {
  const approved = templates.filter((t) => t.status.toUpperCase() === 'APPROVED')
  for (const lang of [browserLanguage ? primaryLanguage(browserLanguage) : '', 'en']) {
    const hit = lang ? approved.find((t) => primaryLanguage(t.language) === lang) : undefined
    if (hit) return hit
  }
  return templates[0]
}

/**
 * What is still missing before the server can preview (it answers 400 to exactly these,
 * see checkParams and checkAudience): an empty list means "ask it". The builder asks
 * nothing before, so opening it no longer logs a 400.
 */
export function missingForPreview(
  template: Pick<TemplateDTO, 'bodyParams' | 'headerParams'> | undefined,
  params: CampaignParams,
  audience: CampaignAudience,
): string[] {
  if (!template) return ['a template']
  const out: string[] = []
  for (const [where, wanted] of [
    ['header', template.headerParams],
    ['body', template.bodyParams],
  ] as const) {
    for (const p of wanted) {
      const s = params[where][p.name]
      const label = `${where === 'header' ? 'header ' : ''}{{${p.name}}}`
      if (!s) out.push(`a value for ${label}`)
      else if (s.from === 'fixed' && s.value.trim() === '') out.push(`a text for ${label}`)
      else if (s.from === 'attribute' && s.key.trim() === '') out.push(`an attribute for ${label}`)
    }
  }
  if (audience.kind === 'tags' && audience.tags.length === 0) out.push('at least one tag')
  if (audience.kind === 'list' && !(audience.listId >= 1)) out.push('a list')
  return out
}

/** The audience in words, for the confirmation ("all contacts", "contacts tagged vip"). */
export function audienceName(a: CampaignAudience, lists: { id: number; name: string }[]): string {
  switch (a.kind) {
    case 'all':
      return 'all contacts'
    case 'tags':
      return `contacts tagged ${a.tags.join(a.match === 'all' ? ' and ' : ' or ')}`
    case 'list':
      return `the list “${lists.find((l) => l.id === a.listId)?.name ?? `#${a.listId}`}”`
    case 'followup':
      return `the follow-up recipients of campaign #${a.campaignId}`
  }
}
