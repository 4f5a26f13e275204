// The campaign screens' state, as the inbox keeps its own (state/inbox.ts): factories of
// signals and pure transitions, no fetch and no DOM. One state per screen as it opens
// (the list, one campaign live, the builder), so leaving a screen forgets it as before.
// The actions that fill them from the server and the stream are campaigns/actions.ts.
import { computed, signal } from '@preact/signals'
import type {
  CampaignAudience,
  CampaignDTO,
  CampaignParams,
  CampaignRecipientDTO,
  ContactDetailDTO,
  ParamSource,
} from '../../../src/events/types.ts'
import type { AudienceSize, Preview, TemplateDTO } from '../api/campaigns.ts'
import type { ContactList, TagCount } from '../api/contacts.ts'
import type { StreamEvent } from '../api/stream.ts'
import { missingForPreview } from './builder-rules.ts'
import { seqOf } from '../state/event-id.ts'
import { applyRecipientEvent, type RowSeqs } from './recipients-live.ts'

// --- the list --------------------------------------------------------------

export function createCampaignListState() {
  return {
    items: signal<CampaignDTO[]>([]),
    next: signal<string | null>(null),
    error: signal<string | null>(null),
    loading: signal(true),
    /** The stream position the loaded page was read at. */
    asOf: 0,
    /** The stream position of the last update applied, per campaign. */
    seen: new Map<number, number>(),
  }
}
export type CampaignListState = ReturnType<typeof createCampaignListState>

/** A `campaign.updated` from the stream: only news moves the list. */
export function applyCampaignListEvent(s: CampaignListState, ev: StreamEvent) {
  if (ev.type !== 'campaign.updated') return
  const n = seqOf(ev.id)
  const c = (ev.data as { campaign: CampaignDTO }).campaign
  // Only news: older than the page, or than an update already applied, is dropped.
  if (n <= s.asOf || n <= (s.seen.get(c.id) ?? 0)) return
  s.seen.set(c.id, n)
  const i = s.items.value.findIndex((x) => x.id === c.id)
  s.items.value = i >= 0 ? s.items.value.map((x) => (x.id === c.id ? c : x)) : [c, ...s.items.value]
}

// --- one campaign, live ----------------------------------------------------

/** Rows of the recipient table read per page. */
export const RECIPIENT_PAGE = 100

export function createCampaignLiveState(id: number) {
  return {
    id,
    campaign: signal<CampaignDTO | null>(null),
    error: signal<string | null>(null),
    busy: signal(false),
    rows: signal<CampaignRecipientDTO[]>([]),
    next: signal<string | null>(null),
    /** The recipient table's status filter ('' for everyone). */
    filter: signal(''),
    /** The stream position the campaign's copy is current to. */
    asOf: 0,
    // The stream position each row is current to, and the message events that arrive
    // while a page is being read (applied to it once it is there, if newer).
    seqs: new Map() as RowSeqs,
    inflight: null as StreamEvent[] | null,
    /** Counts the table's reads: a later read supersedes an earlier one still under way. */
    reads: 0,
  }
}
export type CampaignLiveState = ReturnType<typeof createCampaignLiveState>

/** A message event moves the table's rows it is about (recipients-live.ts). */
export function applyRowEvent(s: CampaignLiveState, ev: StreamEvent) {
  const changed = applyRecipientEvent(s.rows.value, ev, s.id, s.seqs)
  if (changed) s.rows.value = changed
}

/**
 * A `campaign.updated` of this campaign. Returns whether the table's rows may have
 * changed without a message event of their own (recipients taken at a start, skipped
 * for a missing value or a cancel, or the campaign ended): then the page is read again.
 */
export function applyCampaignEvent(s: CampaignLiveState, ev: StreamEvent): boolean {
  const dto = (ev.data as { campaign: CampaignDTO }).campaign
  const n = seqOf(ev.id)
  if (dto.id !== s.id || n <= s.asOf) return false
  s.asOf = n
  const before = s.campaign.value
  s.campaign.value = dto
  return !before || before.status !== dto.status || before.counts.total !== dto.counts.total || before.counts.skipped !== dto.counts.skipped
}

// --- the builder -----------------------------------------------------------

export const tplKey = (t: { name: string; language: string }) => `${t.name}|${t.language}`

export function defaultSource(): ParamSource {
  return { from: 'first_name' }
}

export function createBuilderState(id?: number) {
  const templates = signal<TemplateDTO[]>([])
  const tpl = signal<string>('')
  const params = signal<CampaignParams>({ body: {}, header: {} })
  const audience = signal<CampaignAudience>({ kind: 'all' })
  const template = computed(() => templates.value.find((t) => tplKey(t) === tpl.value))
  return {
    id,
    templates,
    tags: signal<TagCount[]>([]),
    lists: signal<Pick<ContactList, 'id' | 'name' | 'size'>[]>([]),
    name: signal(''),
    tpl,
    params,
    audience,
    when: signal<'now' | 'later'>('now'),
    at: signal(''),
    preview: signal<Preview | null>(null),
    previewError: signal<string | null>(null),
    /** A few contacts of the audience to preview with. */
    sample: signal<ContactDetailDTO[]>([]),
    previewContact: signal<number | null>(null),
    error: signal<string | null>(null),
    busy: signal(false),
    draftId: signal<number | null>(id ?? null),
    /** "Send now", asked: who and how many, fresh from the server, until confirmed or cancelled. */
    confirming: signal<AudienceSize | null>(null),
    template,
    missing: computed(() => missingForPreview(template.value, params.value, audience.value)),
  }
}
export type BuilderState = ReturnType<typeof createBuilderState>

/** Chooses a template; each of its parameters keeps its value if it had one. */
export function pickTemplate(s: BuilderState, key: string) {
  s.tpl.value = key
  const t = s.templates.value.find((x) => tplKey(x) === key)
  if (!t) return
  const map = (ps: { name: string }[], old: Record<string, ParamSource>): Record<string, ParamSource> =>
    Object.fromEntries(
      ps.map((p, i): [string, ParamSource] => [p.name, old[p.name] ?? (i === 0 ? defaultSource() : { from: 'fixed', value: '' })]),
    )
  s.params.value = { body: map(t.bodyParams, s.params.value.body), header: map(t.headerParams, s.params.value.header) }
}

export function setSource(s: BuilderState, where: 'body' | 'header', param: string, src: ParamSource) {
  s.params.value = { ...s.params.value, [where]: { ...s.params.value[where], [param]: src } }
}
