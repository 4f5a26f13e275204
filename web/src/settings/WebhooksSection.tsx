// Settings → Webhooks (issue 16), for admins: add an endpoint (its URL and the events to
// send), its signing secret shown once with a Copy button, the list of endpoints with how
// their deliveries go, each one's recent attempts, and delete. URLs, errors and every other
// server text are rendered as text.
import type { TargetedEvent } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { WEBHOOK_EVENT_TYPES } from '../../../src/domain/webhooks/event-types.ts'
import type { WebhookDeliveryDTO, WebhookEndpointDTO } from '../api/webhooks.ts'
import { CopyField } from './CopyField.tsx'
import { addEndpoint, deleteEndpoint, loadDeliveries, loadEndpoints, webhookError } from './webhooks-actions.ts'
import './webhooks-settings.css'

const EVENT_WORDS: Record<string, string> = {
  'message.created': 'A message arrives or is sent (and notes, activity lines)',
  'message.updated': 'A message changes (sent, delivered, read, failed, reactions)',
  'conversation.updated': 'A conversation changes (status, assignee, labels)',
  'message.deleted': 'A note is deleted',
  'campaign.updated': 'A campaign progresses',
  'contact.updated': 'A contact changes (name, tags, opt-out)',
  'contacts.imported': 'Contacts are imported',
  'channel.updated': 'A channel’s credential check changes',
  'user.updated': 'A person’s role, channels or availability changes',
  'labels.changed': 'The workspace’s labels change',
  'conversation.deleted': 'A conversation is erased (with its contact’s data)',
  'contact.deleted': 'A contact’s data is erased',
}
// While an endpoint's deliveries are open, they are read again this often.
const DELIVERIES_REFRESH_MS = 5000

const when = (ms: number) => new Date(ms).toLocaleString()

export function WebhooksSection() {
  const [endpoints, setEndpoints] = useState<WebhookEndpointDTO[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null)
  const reload = () =>
    loadEndpoints().then(
      (list) => {
        setEndpoints(list)
        setError(null)
      },
      (e) => setError(webhookError(e)),
    )
  useEffect(() => void reload(), [])

  return (
    <section aria-labelledby="webhooks-heading" class="webhooks-settings">
      <h2 id="webhooks-heading">Webhooks</h2>
      <p class="hint">
        Parley posts the events you choose to your own system as they happen, signed as the Standard Webhooks specification says (headers
        webhook-id, webhook-timestamp, webhook-signature). A receiver that is down gets everything it missed, in order, when it comes back;
        an event still failing a day after it happened is skipped.
      </p>
      {created ? (
        <div class="webhook-secret" role="status">
          <p>
            <strong>Endpoint added.</strong> Copy its signing secret now and keep it with your receiver: it is not shown again.
          </p>
          <CopyField label="Signing secret" value={created.secret} attrs={{ 'data-webhook-secret': '' }} />
          <div class="settings-actions">
            <button type="button" class="primary" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        </div>
      ) : (
        <EndpointForm
          onCreated={(ep) => {
            setCreated({ url: ep.url, secret: ep.secret })
            void reload()
          }}
        />
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {endpoints === null ? (
        !error && <p class="hint">Loading…</p>
      ) : endpoints.length === 0 ? (
        <p class="hint">No webhook endpoints yet.</p>
      ) : (
        <ul class="webhook-rows" aria-label="Webhook endpoints">
          {endpoints.map((ep) => (
            <EndpointRow key={ep.id} ep={ep} onDeleted={() => void reload()} />
          ))}
        </ul>
      )}
    </section>
  )
}

function EndpointForm({ onCreated }: { onCreated: (ep: WebhookEndpointDTO & { secret: string }) => void }) {
  const [url, setUrl] = useState('')
  const [events, setEvents] = useState<string[]>(['message.created'])
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    if (!/^https?:\/\/\S+$/i.test(url.trim())) return setError('Type the whole address, starting with https://')
    if (events.length === 0) return setError('Choose at least one event to send.')
    setBusy(true)
    setError(null)
    try {
      const ep = await addEndpoint(url.trim(), events)
      setUrl('')
      onCreated(ep)
    } catch (err) {
      setError(webhookError(err))
    } finally {
      setBusy(false)
    }
  }
  const toggle = (type: string, on: boolean) =>
    setEvents(on ? WEBHOOK_EVENT_TYPES.filter((t) => t === type || events.includes(t)) : events.filter((t) => t !== type))
  return (
    <form class="webhook-form" noValidate aria-label="Add a webhook endpoint" onSubmit={(e) => void submit(e)}>
      <label>
        <span>Endpoint URL</span>
        <input
          name="url"
          type="url"
          value={url}
          maxLength={2048}
          spellcheck={false}
          placeholder="https://example.com/parley-webhook"
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
      </label>
      <fieldset class="webhook-events">
        <legend>Events to send</legend>
        {WEBHOOK_EVENT_TYPES.map((type) => (
          <label key={type} class="inline">
            <input
              type="checkbox"
              name="events"
              value={type}
              checked={events.includes(type)}
              onChange={(e) => toggle(type, e.currentTarget.checked)}
            />{' '}
            <code>{type}</code> <span class="hint">{EVENT_WORDS[type] ?? ''}</span>
          </label>
        ))}
      </fieldset>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add endpoint'}
        </button>
      </div>
    </form>
  )
}

function stateText(ep: WebhookEndpointDTO): { text: string; cls: string } {
  const last = ep.lastDelivery
  if (ep.attempts > 0) {
    const next = ep.nextAttemptAt === null ? '' : `; next try ${when(ep.nextAttemptAt)}`
    return {
      text: `Failing: ${ep.attempts} failed ${ep.attempts === 1 ? 'attempt' : 'attempts'} (${last?.error ?? 'error'})${next}`,
      cls: 'bad',
    }
  }
  if (!last) return { text: 'Nothing sent yet', cls: '' }
  if (last.result === 'skipped') return { text: `Last event skipped after a day of failures (${last.error ?? 'error'})`, cls: 'bad' }
  return { text: `Delivering: last one ${when(last.at)}`, cls: 'good' }
}

function EndpointRow({ ep, onDeleted }: { ep: WebhookEndpointDTO; onDeleted: () => void }) {
  const [mode, setMode] = useState<'view' | 'confirm'>('view')
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const remove = async () => {
    setBusy(true)
    setError(null)
    try {
      await deleteEndpoint(ep.id)
      onDeleted()
    } catch (e) {
      setError(webhookError(e))
      setBusy(false)
    }
  }
  const state = stateText(ep)
  return (
    <li class="webhook-row" data-endpoint-id={ep.id} aria-label={ep.url}>
      <div class="webhook-head">
        <span class="webhook-url mono">{ep.url}</span>
        <span class={`webhook-state ${state.cls}`} data-webhook-state>
          {state.text}
        </span>
      </div>
      <p class="hint">Events: {ep.events.join(', ')}</p>
      {mode === 'confirm' ? (
        <span class="label-confirm">
          <span>Delete this endpoint? Nothing more is sent to it.</span>
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
            Delete
          </button>
          <button type="button" class="chip" onClick={() => setMode('view')}>
            Keep it
          </button>
        </span>
      ) : (
        <span class="row-actions">
          <button type="button" class="chip" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide deliveries' : 'Show deliveries'}
          </button>
          <button type="button" class="chip" aria-label={`Delete ${ep.url}`} onClick={() => setMode('confirm')}>
            Delete
          </button>
        </span>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {open && <Deliveries id={ep.id} />}
    </li>
  )
}

const RESULT_WORDS: Record<WebhookDeliveryDTO['result'], string> = {
  delivered: 'Delivered',
  retrying: 'Failed, will retry',
  skipped: 'Failed, skipped',
}

/** The endpoint's recent attempts, newest first, read again every few seconds while shown. */
function Deliveries({ id }: { id: number }) {
  const [rows, setRows] = useState<WebhookDeliveryDTO[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    const load = () =>
      loadDeliveries(id).then(
        (d) => {
          if (!live) return
          setRows(d)
          setError(null)
        },
        (e) => live && setError(webhookError(e)),
      )
    void load()
    const timer = setInterval(() => void load(), DELIVERIES_REFRESH_MS)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [id])
  if (error)
    return (
      <p class="form-error" role="alert">
        {error}
      </p>
    )
  if (rows === null) return <p class="hint">Loading…</p>
  if (rows.length === 0) return <p class="hint">No deliveries yet: events you chose will show here as they are sent.</p>
  return (
    <table class="webhook-deliveries" aria-label="Recent deliveries">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Event</th>
          <th scope="col">Attempt</th>
          <th scope="col">Result</th>
          <th scope="col">Answer</th>
          <th scope="col">Took</th>
          <th scope="col">Next try</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((d) => (
          <tr key={d.id} data-result={d.result}>
            <td>{when(d.at)}</td>
            <td>
              <code>{d.eventType}</code> <span class="hint mono">{d.eventId}</span>
            </td>
            <td>{d.attempt}</td>
            <td class={d.result === 'delivered' ? 'good' : 'bad'}>{RESULT_WORDS[d.result]}</td>
            <td>{d.statusCode !== null ? `HTTP ${d.statusCode}` : (d.error ?? '')}</td>
            <td>{d.durationMs} ms</td>
            <td>{d.nextRetryAt === null ? '—' : when(d.nextRetryAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
