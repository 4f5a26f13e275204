// The campaign builder: an approved template, each of its parameters mapped to a
// contact field, an attribute (with a fallback) or a fixed value, the audience, and
// "send now" or a time — with a live preview of what one contact will receive, and a
// confirmation naming the audience's size and cost before anything goes out at once.
import { useComputed, useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type { CampaignAudience, CampaignParams, ContactDetailDTO, ParamSource } from '../../../src/events/types.ts'
import { campaignsApi, describeError, type AudienceSize, type Preview, type TemplateDTO } from './api.ts'
import { audienceName, defaultTemplate, missingForPreview } from './builder-rules.ts'
import { navigate } from './route.tsx'

type SourceKind = 'name' | 'first_name' | 'phone' | 'attribute' | 'fixed'
const SOURCE_LABEL: Record<SourceKind, string> = {
  first_name: 'First name',
  name: 'Full name',
  phone: 'Phone number',
  attribute: 'Attribute (CSV column)',
  fixed: 'Fixed text',
}
const PREVIEW_DEBOUNCE_MS = 300

const tplKey = (t: { name: string; language: string }) => `${t.name}|${t.language}`

function defaultSource(): ParamSource {
  return { from: 'first_name' }
}

export function CampaignBuilder({ id }: { id?: number }) {
  const templates = useSignal<TemplateDTO[]>([])
  const tags = useSignal<{ tag: string; count: number }[]>([])
  const lists = useSignal<{ id: number; name: string; size: number }[]>([])
  const name = useSignal('')
  const tpl = useSignal<string>('')
  const params = useSignal<CampaignParams>({ body: {}, header: {} })
  const audience = useSignal<CampaignAudience>({ kind: 'all' })
  const when = useSignal<'now' | 'later'>('now')
  const at = useSignal('')
  const preview = useSignal<Preview | null>(null)
  const previewError = useSignal<string | null>(null)
  const sample = useSignal<ContactDetailDTO[]>([])
  const previewContact = useSignal<number | null>(null)
  const error = useSignal<string | null>(null)
  const busy = useSignal(false)
  const draftId = useSignal<number | null>(id ?? null)
  const previewTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  // "Send now", asked: who and how many, fresh from the server, until confirmed or cancelled.
  const confirming = useSignal<AudienceSize | null>(null)
  const dialog = useRef<HTMLDialogElement>(null)

  const template = useComputed(() => templates.value.find((t) => tplKey(t) === tpl.value))
  const missing = useComputed(() => missingForPreview(template.value, params.value, audience.value))

  useEffect(() => {
    const load = async () => {
      try {
        const [t, g, l] = await Promise.all([campaignsApi.templates(), campaignsApi.tags(), campaignsApi.lists()])
        templates.value = t.templates.filter((x) => x.sendable)
        tags.value = g.tags
        lists.value = l.lists
        if (id !== undefined) {
          const { campaign } = await campaignsApi.campaign(id)
          if (campaign.status !== 'draft' && campaign.status !== 'scheduled') return navigate(`/campaigns/${id}`)
          name.value = campaign.name
          tpl.value = tplKey(campaign.template)
          params.value = campaign.params
          audience.value = campaign.audience
          if (campaign.scheduledAt) {
            when.value = 'later'
            at.value = toLocalInput(campaign.scheduledAt)
          }
        } else {
          const first = defaultTemplate(templates.value, typeof navigator === 'undefined' ? undefined : navigator.language)
          if (first) pickTemplate(tplKey(first))
        }
      } catch (e) {
        error.value = describeError(e)
      }
    }
    void load()
  }, [])

  function pickTemplate(key: string) {
    tpl.value = key
    const t = templates.value.find((x) => tplKey(x) === key)
    if (!t) return
    const map = (ps: { name: string }[], old: Record<string, ParamSource>): Record<string, ParamSource> =>
      Object.fromEntries(
        ps.map((p, i): [string, ParamSource] => [p.name, old[p.name] ?? (i === 0 ? defaultSource() : { from: 'fixed', value: '' })]),
      )
    params.value = { body: map(t.bodyParams, params.value.body), header: map(t.headerParams, params.value.header) }
  }

  function setSource(where: 'body' | 'header', param: string, s: ParamSource) {
    params.value = { ...params.value, [where]: { ...params.value[where], [param]: s } }
  }

  // The preview follows every change, a moment after the last keystroke — once there is
  // something the server can preview (before that it would only answer 400).
  useEffect(() => {
    clearTimeout(previewTimer.current)
    const t = template.value
    if (!t || missing.value.length > 0) {
      preview.value = null
      previewError.value = null
      return
    }
    const spec = { template: { name: t.name, language: t.language }, params: params.value, audience: audience.value }
    previewTimer.current = setTimeout(async () => {
      try {
        preview.value = await campaignsApi.preview({ ...spec, ...(previewContact.value ? { contactId: previewContact.value } : {}) })
        previewError.value = null
      } catch (e) {
        previewError.value = describeError(e)
      }
    }, PREVIEW_DEBOUNCE_MS)
  }, [template.value, params.value, audience.value, previewContact.value, missing.value.length])

  // A few contacts of the audience to preview with.
  useEffect(() => {
    const a = audience.value
    if ((a.kind === 'tags' && a.tags.length === 0) || (a.kind === 'list' && !(a.listId >= 1))) {
      sample.value = []
      return
    }
    const q = a.kind === 'tags' ? { tag: a.tags[0] } : a.kind === 'list' ? { listId: a.listId } : {}
    campaignsApi
      .contacts({ ...q, optedOut: false, limit: 20 })
      .then((r) => (sample.value = r.contacts))
      .catch(() => (sample.value = []))
  }, [audience.value])

  // Sending at once cannot be taken back: say to whom, how many and what it costs first.
  async function askToSend() {
    error.value = null
    busy.value = true
    try {
      confirming.value = (await campaignsApi.audienceSize(audience.value)).audience
    } catch (e) {
      error.value = describeError(e)
    } finally {
      busy.value = false
    }
  }

  useEffect(() => {
    const d = dialog.current
    if (confirming.value && d && !d.open) d.showModal()
  }, [confirming.value])

  function closeConfirm() {
    confirming.value = null
    if (dialog.current?.open) dialog.current.close()
  }

  async function save(send: boolean) {
    const t = template.value
    if (!t) return
    error.value = null
    busy.value = true
    try {
      const spec = {
        name: name.value.trim() || 'Untitled campaign',
        template: { name: t.name, language: t.language },
        params: params.value,
        audience: audience.value,
      }
      const c =
        draftId.value === null ? (await campaignsApi.create(spec)).campaign : (await campaignsApi.update(draftId.value, spec)).campaign
      draftId.value = c.id
      if (!send) return navigate(`/campaigns/${c.id}/edit`)
      const time = when.value === 'later' && at.value ? new Date(at.value).getTime() : null
      if (when.value === 'later' && (!time || !Number.isFinite(time))) throw new Error('Choose when to send it')
      await campaignsApi.start(c.id, time)
      navigate(`/campaigns/${c.id}`)
    } catch (e) {
      error.value = e instanceof Error && !('code' in e) ? e.message : describeError(e)
    } finally {
      busy.value = false
    }
  }

  const t = template.value
  const a = audience.value
  const p = preview.value
  return (
    <section class="page builder">
      <div class="page-head">
        <h1>{id ? 'Edit campaign' : 'New campaign'}</h1>
      </div>
      <form
        class="builder-grid"
        onSubmit={(e) => {
          e.preventDefault()
          void (when.value === 'now' ? askToSend() : save(true))
        }}
      >
        <div class="builder-form">
          <label class="field">
            <span>Name</span>
            <input
              value={name.value}
              maxLength={200}
              required
              placeholder="Spring sale"
              onInput={(e) => (name.value = e.currentTarget.value)}
            />
          </label>

          <fieldset class="field">
            <legend>Template</legend>
            {templates.value.length === 0 ? (
              <p class="muted">No approved template that Parley can fill in.</p>
            ) : (
              <select value={tpl.value} onChange={(e) => pickTemplate(e.currentTarget.value)} aria-label="Template">
                {templates.value.map((x) => (
                  <option key={tplKey(x)} value={tplKey(x)}>
                    {x.name} ({x.language}){x.category ? ` · ${x.category.toLowerCase()}` : ''}
                  </option>
                ))}
              </select>
            )}
            {t && <p class="tpl-text">{[t.header, t.body, t.footer].filter(Boolean).join('\n')}</p>}
          </fieldset>

          {t && (t.headerParams.length > 0 || t.bodyParams.length > 0) && (
            <fieldset class="field">
              <legend>Values</legend>
              {(['header', 'body'] as const).flatMap((where) =>
                (where === 'header' ? t.headerParams : t.bodyParams).map((param) => (
                  <SourceRow
                    key={`${where}-${param.name}`}
                    label={`${where === 'header' ? 'Header ' : ''}{{${param.name}}}`}
                    example={param.example}
                    source={params.value[where][param.name] ?? defaultSource()}
                    onChange={(s) => setSource(where, param.name, s)}
                  />
                )),
              )}
            </fieldset>
          )}

          <fieldset class="field">
            <legend>Audience</legend>
            {a.kind === 'followup' ? (
              <p>
                Follow-up of campaign #{a.campaignId}: recipients who{' '}
                {a.filter === 'failed' ? 'could not be reached' : a.filter === 'unread' ? 'did not read it' : 'did not reply'}.
              </p>
            ) : (
              <>
                <div class="radios">
                  {(['all', 'tags', 'list'] as const).map((k) => (
                    <label key={k}>
                      <input
                        type="radio"
                        name="audience"
                        checked={a.kind === k}
                        onChange={() =>
                          (audience.value =
                            k === 'all'
                              ? { kind: 'all' }
                              : k === 'tags'
                                ? { kind: 'tags', tags: [], match: 'any' }
                                : { kind: 'list', listId: lists.value[0]?.id ?? 0 })
                        }
                      />{' '}
                      {k === 'all' ? 'All contacts' : k === 'tags' ? 'Contacts with tags' : 'An imported list'}
                    </label>
                  ))}
                </div>
                {a.kind === 'tags' && (
                  <div class="chips">
                    {tags.value.length === 0 && <span class="muted">No tags yet.</span>}
                    {tags.value.map((x) => {
                      const on = a.tags.includes(x.tag)
                      return (
                        <button
                          type="button"
                          key={x.tag}
                          class={`chip${on ? ' on' : ''}`}
                          aria-pressed={on}
                          onClick={() => (audience.value = { ...a, tags: on ? a.tags.filter((y) => y !== x.tag) : [...a.tags, x.tag] })}
                        >
                          {x.tag} ({x.count})
                        </button>
                      )
                    })}
                    {a.tags.length > 1 && (
                      <select
                        value={a.match}
                        aria-label="Match"
                        onChange={(e) => (audience.value = { ...a, match: e.currentTarget.value as 'any' | 'all' })}
                      >
                        <option value="any">any of these tags</option>
                        <option value="all">all of these tags</option>
                      </select>
                    )}
                  </div>
                )}
                {a.kind === 'list' && (
                  <select
                    value={String(a.listId)}
                    aria-label="List"
                    onChange={(e) => (audience.value = { kind: 'list', listId: Number(e.currentTarget.value) })}
                  >
                    {lists.value.map((l) => (
                      <option key={l.id} value={String(l.id)}>
                        {l.name} ({l.size})
                      </option>
                    ))}
                  </select>
                )}
              </>
            )}
            {p && missing.value.length === 0 && (
              <p class="muted small" aria-live="polite">
                {p.audience.eligible.toLocaleString()} will receive it
                {p.audience.optedOut ? ` · ${p.audience.optedOut.toLocaleString()} opted out (skipped)` : ''}
              </p>
            )}
          </fieldset>

          <fieldset class="field">
            <legend>When</legend>
            <div class="radios">
              <label>
                <input type="radio" name="when" checked={when.value === 'now'} onChange={() => (when.value = 'now')} /> Send now
              </label>
              <label>
                <input type="radio" name="when" checked={when.value === 'later'} onChange={() => (when.value = 'later')} /> Schedule
              </label>
              {when.value === 'later' && (
                <input type="datetime-local" value={at.value} aria-label="Send at" onInput={(e) => (at.value = e.currentTarget.value)} />
              )}
            </div>
          </fieldset>

          {error.value && (
            <p class="form-error" role="alert">
              {error.value}
            </p>
          )}
          <div class="actions">
            <button type="button" disabled={busy.value || !t} onClick={() => void save(false)}>
              Save draft
            </button>
            <button
              type="submit"
              class="primary"
              disabled={busy.value || !t || missing.value.length > 0 || (p !== null && p.audience.eligible === 0)}
            >
              {when.value === 'later' ? 'Schedule' : 'Send now'}
            </button>
          </div>
        </div>

        <aside class="builder-preview" aria-label="Preview">
          <h2>Preview</h2>
          {sample.value.length > 0 && (
            <label class="field">
              <span>For</span>
              <select
                value={String(previewContact.value ?? '')}
                onChange={(e) => (previewContact.value = e.currentTarget.value ? Number(e.currentTarget.value) : null)}
              >
                <option value="">the first contact of the audience</option>
                {sample.value.map((c) => (
                  <option key={c.id} value={String(c.id)}>
                    {c.name ?? `+${c.phone ?? c.externalId}`}
                  </option>
                ))}
              </select>
            </label>
          )}
          {missing.value.length > 0 && <p class="muted">To preview, choose {missing.value.join(', ')}.</p>}
          {previewError.value && <p class="form-error">{previewError.value}</p>}
          {p?.contact && <p class="muted small">To {p.contact.name ?? `+${p.contact.phone ?? p.contact.externalId}`}</p>}
          {p?.text && <div class="bubble-preview">{p.text}</div>}
          {p?.skip && (
            <p class="warn" role="status">
              This contact would be skipped: {p.skip.detail}
            </p>
          )}
          {p && !p.contact && <p class="muted">No contact matches this audience yet.</p>}
        </aside>
      </form>
      <dialog ref={dialog} class="confirm" aria-labelledby="send-confirm-title" onClose={() => (confirming.value = null)}>
        {confirming.value && (
          <SendConfirm
            name={name.value.trim() || 'Untitled campaign'}
            audience={audienceName(a, lists.value)}
            category={(t?.category ?? 'marketing').toLowerCase()}
            size={confirming.value}
            busy={busy.value}
            onCancel={closeConfirm}
            onConfirm={() => {
              closeConfirm()
              void save(true)
            }}
          />
        )}
      </dialog>
    </section>
  )
}

function SendConfirm(props: {
  name: string
  audience: string
  category: string
  size: AudienceSize
  busy: boolean
  onCancel: () => void
  onConfirm: () => void
}) {
  const { total, optedOut, eligible } = props.size
  return (
    <form
      method="dialog"
      onSubmit={(e) => {
        e.preventDefault()
        props.onConfirm()
      }}
    >
      <h2 id="send-confirm-title">Send “{props.name}” now?</h2>
      <p>
        It goes out at once to {props.audience}: <strong>{eligible.toLocaleString()}</strong> {eligible === 1 ? 'contact' : 'contacts'}
        {optedOut > 0 ? ` (${optedOut.toLocaleString()} of ${total.toLocaleString()} opted out and are skipped)` : ''}.
      </p>
      {/* Meta bills a template per recipient it reaches: one conversation each, fewer if
          some fail or are not on WhatsApp, hence "about". */}
      <p>
        Cost: about <strong>{eligible.toLocaleString()}</strong> {eligible === 1 ? 'conversation' : 'conversations'} — one {props.category}{' '}
        conversation per recipient WhatsApp delivers it to. It cannot be taken back once sent; you can pause or cancel what has not gone out
        yet.
      </p>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={props.busy || eligible === 0}>
          Send to {eligible.toLocaleString()} {eligible === 1 ? 'contact' : 'contacts'}
        </button>
      </div>
    </form>
  )
}

function SourceRow(props: { label: string; example: string | null; source: ParamSource; onChange: (s: ParamSource) => void }) {
  const s = props.source
  return (
    <div class="source-row">
      <span class="param">{props.label}</span>
      <select
        value={s.from}
        aria-label={`Value of ${props.label}`}
        onChange={(e) => {
          const k = e.currentTarget.value as SourceKind
          props.onChange(
            k === 'attribute'
              ? { from: 'attribute', key: '' }
              : k === 'fixed'
                ? { from: 'fixed', value: props.example ?? '' }
                : { from: k },
          )
        }}
      >
        {(Object.keys(SOURCE_LABEL) as SourceKind[]).map((k) => (
          <option key={k} value={k}>
            {SOURCE_LABEL[k]}
          </option>
        ))}
      </select>
      {s.from === 'attribute' && (
        <>
          <input
            placeholder="column, e.g. order"
            maxLength={100}
            value={s.key}
            aria-label={`Attribute for ${props.label}`}
            onInput={(e) => props.onChange({ ...s, key: e.currentTarget.value })}
          />
          <input
            placeholder="if empty…"
            maxLength={1024}
            value={s.fallback ?? ''}
            aria-label={`Fallback for ${props.label}`}
            onInput={(e) => props.onChange({ ...s, fallback: e.currentTarget.value || undefined })}
          />
        </>
      )}
      {s.from === 'fixed' && (
        <input
          placeholder={props.example ?? 'text'}
          maxLength={1024}
          value={s.value}
          aria-label={`Text for ${props.label}`}
          onInput={(e) => props.onChange({ from: 'fixed', value: e.currentTarget.value })}
        />
      )}
    </div>
  )
}

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}
