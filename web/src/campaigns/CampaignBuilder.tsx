// The campaign builder: an approved template, each of its parameters mapped to a
// contact field, an attribute (with a fallback) or a fixed value, the audience, and
// "send now" or a time — with a live preview of what one contact will receive, and a
// confirmation naming the audience's size and cost before anything goes out at once.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ParamSource } from '../../../src/events/types.ts'
import type { AudienceSize } from '../api/campaigns.ts'
import { askToSend, followBuilder, loadBuilder, saveCampaign } from './actions.ts'
import { audienceName } from './builder-rules.ts'
import { createBuilderState, defaultSource, pickTemplate, setSource, tplKey } from './state.ts'

type SourceKind = 'name' | 'first_name' | 'phone' | 'attribute' | 'fixed'
const SOURCE_LABEL: Record<SourceKind, string> = {
  first_name: 'First name',
  name: 'Full name',
  phone: 'Phone number',
  attribute: 'Attribute (CSV column)',
  fixed: 'Fixed text',
}

export function CampaignBuilder({ id }: { id?: number }) {
  // One state per builder opened (the screen is keyed by what it edits).
  const [s] = useState(() => createBuilderState(id))
  const { templates, tags, lists, name, tpl, params, audience, when, at, preview, previewError, sample, previewContact, error, busy } = s
  const { confirming, template, missing } = s
  const dialog = useRef<HTMLDialogElement>(null)

  useEffect(() => {
    void loadBuilder(s)
    return followBuilder(s)
  }, [])

  useEffect(() => {
    const d = dialog.current
    if (confirming.value && d && !d.open) d.showModal()
  }, [confirming.value])

  function closeConfirm() {
    confirming.value = null
    if (dialog.current?.open) dialog.current.close()
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
          void (when.value === 'now' ? askToSend(s) : saveCampaign(s, true))
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
              <select value={tpl.value} onChange={(e) => pickTemplate(s, e.currentTarget.value)} aria-label="Template">
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
                    onChange={(src) => setSource(s, where, param.name, src)}
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
            <button type="button" disabled={busy.value || !t} onClick={() => void saveCampaign(s, false)}>
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
              void saveCampaign(s, true)
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
