// What the campaign screens do, as the inbox's actions (state/app.ts): ask the server
// and write its answers into the screen's state (campaigns/state.ts), follow the stream.
// Components read the state and call these; they never fetch.
import type { ReadonlySignal } from '@preact/signals'
import { effect } from '@preact/signals'
import type { CampaignDTO, FollowUpFilter } from '../../../src/events/types.ts'
import { describeError } from '../api/client.ts'
import { campaignsApi } from '../api/campaigns.ts'
import { contactsApi } from '../api/contacts.ts'
import type { StreamEvent } from '../api/stream.ts'
import { navigate } from '../lib/nav.ts'
import { seqOf } from '../state/event-id.ts'
import { defaultTemplate } from './builder-rules.ts'
import { FALLBACK_REFRESH_MS, hasRelay, onResume, onStreamEvent } from './live.ts'
import {
  applyCampaignEvent,
  applyCampaignListEvent,
  applyRowEvent,
  pickTemplate,
  RECIPIENT_PAGE,
  tplKey,
  type BuilderState,
  type CampaignListState,
  type CampaignLiveState,
} from './state.ts'

const PREVIEW_DEBOUNCE_MS = 300

// --- the list --------------------------------------------------------------

export async function loadCampaigns(s: CampaignListState) {
  try {
    const page = await campaignsApi.campaigns()
    s.asOf = seqOf(page.eventId)
    s.items.value = page.campaigns
    s.next.value = page.nextCursor
    s.error.value = null
  } catch (e) {
    s.error.value = describeError(e)
  } finally {
    s.loading.value = false
  }
}

export async function loadMoreCampaigns(s: CampaignListState) {
  if (!s.next.value) return
  try {
    const page = await campaignsApi.campaigns(s.next.value)
    const have = new Set(s.items.value.map((c) => c.id))
    s.items.value = [...s.items.value, ...page.campaigns.filter((c) => !have.has(c.id))]
    s.next.value = page.nextCursor
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** Loads the list and keeps it live while the screen is open; returns the stop. */
export function followCampaignList(s: CampaignListState, resumed: ReadonlySignal<number>): () => void {
  void loadCampaigns(s)
  const off = onStreamEvent((ev) => {
    if (ev.type === 'reset') return void loadCampaigns(s)
    applyCampaignListEvent(s, ev)
  })
  const offResume = onResume(resumed, () => void loadCampaigns(s))
  const timer = hasRelay ? undefined : setInterval(() => void loadCampaigns(s), FALLBACK_REFRESH_MS)
  return () => {
    off()
    offResume()
    clearInterval(timer)
  }
}

// --- one campaign, live ----------------------------------------------------

export async function loadCampaign(s: CampaignLiveState) {
  try {
    const r = await campaignsApi.campaign(s.id)
    s.asOf = seqOf(r.eventId)
    s.campaign.value = r.campaign
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** Reads the first (reset) or the next page of the recipient table. */
export async function loadRecipients(s: CampaignLiveState, reset: boolean) {
  const buffer: StreamEvent[] = []
  s.inflight = buffer
  const read = ++s.reads
  try {
    const page = await campaignsApi.recipients(s.id, {
      status: s.filter.value || undefined,
      cursor: reset ? null : s.next.value,
      limit: RECIPIENT_PAGE,
    })
    // A later read (another filter, a re-read) supersedes this one.
    if (read !== s.reads) return
    if (reset) s.seqs.clear()
    const asOf = seqOf(page.eventId)
    for (const r of page.recipients) s.seqs.set(r.id, asOf)
    s.rows.value = reset ? page.recipients : [...s.rows.value, ...page.recipients]
    s.next.value = page.nextCursor
    for (const ev of buffer) applyRowEvent(s, ev)
  } catch (e) {
    s.error.value = describeError(e)
  } finally {
    if (s.inflight === buffer) s.inflight = null
  }
}

export function setRecipientFilter(s: CampaignLiveState, filter: string) {
  s.filter.value = filter
  void loadRecipients(s, true)
}

/**
 * Loads the campaign and its table and keeps both live while the screen is open:
 * counters from `campaign.updated`, rows from the message events they are made of.
 */
export function followCampaign(s: CampaignLiveState, resumed: ReadonlySignal<number>): () => void {
  const reload = () => {
    void loadCampaign(s)
    void loadRecipients(s, true)
  }
  reload()
  const off = onStreamEvent((ev) => {
    if (ev.type === 'reset') return reload()
    if (ev.type === 'message.created' || ev.type === 'message.updated') {
      s.inflight?.push(ev)
      return applyRowEvent(s, ev)
    }
    if (ev.type !== 'campaign.updated') return
    if (applyCampaignEvent(s, ev) && s.rows.value.length <= RECIPIENT_PAGE) void loadRecipients(s, true)
  })
  const offResume = onResume(resumed, reload)
  const timer = hasRelay
    ? undefined
    : setInterval(() => {
        void loadCampaign(s)
        if (s.rows.value.length <= RECIPIENT_PAGE) void loadRecipients(s, true)
      }, FALLBACK_REFRESH_MS)
  return () => {
    off()
    offResume()
    clearInterval(timer)
  }
}

async function run(s: CampaignLiveState, fn: () => Promise<{ campaign: CampaignDTO }>) {
  s.busy.value = true
  s.error.value = null
  try {
    s.campaign.value = (await fn()).campaign
  } catch (e) {
    s.error.value = describeError(e)
  } finally {
    s.busy.value = false
  }
}

export const controlCampaign = (s: CampaignLiveState, what: 'pause' | 'resume' | 'cancel') => run(s, () => campaignsApi.act(s.id, what))

/** Sends again to the recipients WhatsApp never confirmed (the agent has been warned of duplicates). */
export const retryUnconfirmed = (s: CampaignLiveState) => run(s, () => campaignsApi.retryUnconfirmed(s.id))

/** A new draft for those who failed, did not read or did not reply; the builder opens it. */
export async function followUp(s: CampaignLiveState, f: FollowUpFilter) {
  try {
    const r = await campaignsApi.followUp(s.id, f)
    navigate(`/campaigns/${r.campaign.id}/edit`)
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** The recipient table as a CSV file (the browser downloads it with the session cookie). */
export const recipientsCsvUrl = (s: CampaignLiveState) => campaignsApi.exportUrl(s.id)

// --- the builder -----------------------------------------------------------

/** Templates, tags and lists; a draft's own values when one is edited, else a default template. */
export async function loadBuilder(s: BuilderState) {
  try {
    const [t, g, l] = await Promise.all([campaignsApi.templates(), contactsApi.tags(), contactsApi.lists()])
    s.templates.value = t.templates.filter((x) => x.sendable)
    s.tags.value = g.tags
    s.lists.value = l.lists
    if (s.id !== undefined) {
      const { campaign } = await campaignsApi.campaign(s.id)
      if (campaign.status !== 'draft' && campaign.status !== 'scheduled') return navigate(`/campaigns/${s.id}`)
      s.name.value = campaign.name
      s.tpl.value = tplKey(campaign.template)
      s.params.value = campaign.params
      s.audience.value = campaign.audience
      if (campaign.scheduledAt) {
        s.when.value = 'later'
        s.at.value = toLocalInput(campaign.scheduledAt)
      }
    } else {
      const first = defaultTemplate(s.templates.value, typeof navigator === 'undefined' ? undefined : navigator.language)
      if (first) pickTemplate(s, tplKey(first))
    }
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/**
 * While the builder is open: the preview follows every change, a moment after the last
 * keystroke — once there is something the server can preview (before that it would only
 * answer 400); and a few contacts of the audience are there to preview with.
 */
export function followBuilder(s: BuilderState): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  const offPreview = effect(() => {
    clearTimeout(timer)
    const t = s.template.value
    const missing = s.missing.value.length
    const params = s.params.value
    const audience = s.audience.value
    // Read here so that choosing another contact previews again.
    void s.previewContact.value
    if (!t || missing > 0) {
      s.preview.value = null
      s.previewError.value = null
      return
    }
    const spec = { template: { name: t.name, language: t.language }, params, audience }
    timer = setTimeout(async () => {
      try {
        const contactId = s.previewContact.value
        s.preview.value = await campaignsApi.preview({ ...spec, ...(contactId ? { contactId } : {}) })
        s.previewError.value = null
      } catch (e) {
        s.previewError.value = describeError(e)
      }
    }, PREVIEW_DEBOUNCE_MS)
  })
  const offSample = effect(() => {
    const a = s.audience.value
    if ((a.kind === 'tags' && a.tags.length === 0) || (a.kind === 'list' && !(a.listId >= 1))) {
      s.sample.value = []
      return
    }
    const q = a.kind === 'tags' ? { tag: a.tags[0] } : a.kind === 'list' ? { listId: a.listId } : {}
    contactsApi
      .contacts({ ...q, optedOut: false, limit: 20 })
      .then((r) => (s.sample.value = r.contacts))
      .catch(() => (s.sample.value = []))
  })
  return () => {
    offPreview()
    offSample()
    clearTimeout(timer)
  }
}

/** Sending at once cannot be taken back: who and how many, fresh from the server, first. */
export async function askToSend(s: BuilderState) {
  s.error.value = null
  s.busy.value = true
  try {
    s.confirming.value = (await campaignsApi.audienceSize(s.audience.value)).audience
  } catch (e) {
    s.error.value = describeError(e)
  } finally {
    s.busy.value = false
  }
}

/** Saves the draft; with `send`, starts it (now, or at the time chosen) and opens it live. */
export async function saveCampaign(s: BuilderState, send: boolean) {
  const t = s.template.value
  if (!t) return
  s.error.value = null
  s.busy.value = true
  try {
    const spec = {
      name: s.name.value.trim() || 'Untitled campaign',
      template: { name: t.name, language: t.language },
      params: s.params.value,
      audience: s.audience.value,
    }
    const c =
      s.draftId.value === null ? (await campaignsApi.create(spec)).campaign : (await campaignsApi.update(s.draftId.value, spec)).campaign
    s.draftId.value = c.id
    if (!send) return navigate(`/campaigns/${c.id}/edit`)
    const time = s.when.value === 'later' && s.at.value ? new Date(s.at.value).getTime() : null
    if (s.when.value === 'later' && (!time || !Number.isFinite(time))) throw new Error('Choose when to send it')
    await campaignsApi.start(c.id, time)
    navigate(`/campaigns/${c.id}`)
  } catch (e) {
    s.error.value = e instanceof Error && !('code' in e) ? e.message : describeError(e)
  } finally {
    s.busy.value = false
  }
}

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}
