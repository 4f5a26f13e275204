// Settings. For everyone: their own profile (issue 13). For admins: the team (issue 13)
// and the workspace's WhatsApp numbers and Messenger pages (issue 6) — add, edit,
// disable and enable them; secrets are write-only (the API only says whether one is
// set, and a field replaces it); the webhook URL to paste into Meta's dashboard.
import { ReportsLink } from '../reports/ReportsLink.tsx'
import { HealthLink } from '../health/HealthLink.tsx'
import { useEffect, useState } from 'preact/hooks'
import type { ChannelKind } from '../../../src/events/types.ts'
import type { ChannelInput, ChannelPublic } from '../api/http.ts'
import { useApp } from '../state/context.ts'
import { channelTitle, KIND_LABEL } from '../lib/channels.ts'
import { channelError, createChannel, loadTeam, loadVerifyToken, updateChannel, type ChannelPatch } from './actions.ts'
import { ChannelAssignment } from './ChannelAssignment.tsx'
import { AssigneeOnlySwitch } from './AssigneeOnlySwitch.tsx'
import { CopyField } from './CopyField.tsx'
import { ProfileSection } from './ProfileSection.tsx'
import { TeamSection } from './TeamSection.tsx'
import './settings.css'
import { BusinessHoursSection } from './BusinessHoursSection.tsx'
import { LabelsSection } from './LabelsSection.tsx'
import { CannedRepliesSection } from './CannedRepliesSection.tsx'
import { ApiTokensSection } from './ApiTokensSection.tsx'
// Issue 16: two-factor sign-in (everyone) and the audit log (admins).
import { TwoFactorSection } from './TwoFactorSection.tsx'
import { AuditSection } from './AuditSection.tsx'
import { WebhooksSection } from './WebhooksSection.tsx'
import { createTeamState, type TeamState } from './team-state.ts'

type Editing = { mode: 'add'; kind: ChannelKind } | { mode: 'edit'; id: number } | null

export function SettingsScreen() {
  const app = useApp()
  const channels = app.channels.value
  const admin = app.user.value?.role === 'admin'
  const [editing, setEditing] = useState<Editing>(null)
  // The people (admins only): Settings → Team and each channel's members list them.
  const [team] = useState(createTeamState)

  useEffect(() => {
    document.title = 'Settings · Parley'
    // Someone else may have changed them since the inbox loaded.
    void app.loadChannels()
    return () => {
      document.title = 'Parley'
    }
  }, [])
  useEffect(() => {
    if (admin) loadTeam(team).catch(() => {})
  }, [admin])

  return (
    <div class="settings">
      <main class="settings-body">
        <ProfileSection />
        <TwoFactorSection />
        {admin && <TeamSection team={team} />}
        {admin && (
          <section aria-labelledby="channels-heading">
            <h2 id="channels-heading">Channels</h2>
            <p class="hint">
              The WhatsApp numbers and Facebook Pages whose messages arrive in this inbox. Tokens and secrets are kept on the server and
              never shown again once saved.
            </p>
            <WebhookUrls />
            <ul class="channel-cards" aria-label="Connected channels">
              {channels.map((c) =>
                editing?.mode === 'edit' && editing.id === c.id ? (
                  <li key={c.id} class="channel-card editing">
                    <ChannelForm kind={c.kind} channel={c} onDone={() => setEditing(null)} />
                  </li>
                ) : (
                  <ChannelCard key={c.id} c={c} team={team} onEdit={() => setEditing({ mode: 'edit', id: c.id })} />
                ),
              )}
              {channels.length === 0 && <li class="hint">No channel is connected yet.</li>}
            </ul>
            {editing?.mode === 'add' ? (
              <div class="channel-card editing">
                <ChannelForm kind={editing.kind} channel={null} onDone={() => setEditing(null)} />
              </div>
            ) : (
              <div class="settings-actions">
                <button type="button" class="primary" onClick={() => setEditing({ mode: 'add', kind: 'whatsapp' })}>
                  Add a WhatsApp number
                </button>
                <button type="button" class="primary" onClick={() => setEditing({ mode: 'add', kind: 'messenger' })}>
                  Add a Messenger page
                </button>
              </div>
            )}
          </section>
        )}
        {admin && <BusinessHoursSection />}
        {admin && <LabelsSection />}
        {admin && <ReportsLink />}
        {admin && <HealthLink />}
        {admin && <AuditSection />}
        {admin && <WebhooksSection />}
        <CannedRepliesSection />
        <ApiTokensSection />
      </main>
    </div>
  )
}

const webhookUrl = (kind: ChannelKind) => `${location.origin}/webhooks/${kind}`

/** The callback URLs for Meta's App Dashboard, with what to subscribe to. */
function WebhookUrls() {
  // The server's verify token (admins only): what Meta must send back when it verifies the URL.
  const [verifyToken, setVerifyToken] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    loadVerifyToken().then(
      (token) => live && setVerifyToken(token),
      () => {},
    )
    return () => void (live = false)
  }, [])
  return (
    <div class="webhooks">
      <h3>Webhook URLs for Meta's App Dashboard</h3>
      {verifyToken !== null && (
        <>
          <CopyField label="Verify token" value={verifyToken} secret />
          <p class="hint">
            Paste it as “Verify token” next to the callback URL (unless the channel has its own). It is a secret shared with Meta: only
            admins see it here.
          </p>
        </>
      )}
      <CopyField label="WhatsApp callback URL" value={webhookUrl('whatsapp')} />
      <p class="hint">
        WhatsApp → Configuration → Webhook: paste it with the number's verify token; subscribe to the “messages” field, and to
        “smb_message_echoes” and “user_preferences” (replies sent from the WhatsApp Business app on the phone, and customers who stop
        marketing messages in WhatsApp).
      </p>
      <CopyField label="Messenger callback URL" value={webhookUrl('messenger')} />
      <p class="hint">
        Messenger → Settings → Webhooks: paste it with the page's verify token; subscribe to messages, message_echoes, message_deliveries,
        message_reads, message_reactions and messaging_postbacks.
      </p>
      {location.protocol !== 'https:' && (
        <p class="warn" role="note">
          Meta only calls https:// addresses. Serve Parley over TLS (for example behind a reverse proxy) and open this page at that address
          to see the URLs to use.
        </p>
      )}
    </div>
  )
}

const idLabel = (kind: ChannelKind) => (kind === 'whatsapp' ? 'Phone number ID' : 'Page ID')

function ChannelCard({ c, team, onEdit }: { c: ChannelPublic; team: TeamState; onEdit: () => void }) {
  const app = useApp()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const toggle = async () => {
    setBusy(true)
    setError(null)
    try {
      await updateChannel(app, c.id, { enabled: !c.enabled })
    } catch (e) {
      setError(channelError(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <li class={`channel-card${c.enabled ? '' : ' disabled'}`} data-channel-id={c.id} aria-label={`${KIND_LABEL[c.kind]} ${c.name}`}>
      <div class="channel-head">
        <span class={`chan chan-${c.kind}`}>{KIND_LABEL[c.kind]}</span>
        <strong class="channel-name">{c.name}</strong>
        <span class={c.enabled ? 'state on' : 'state off'}>{c.enabled ? 'Enabled' : 'Disabled'}</span>
      </div>
      <Credentials c={c} />
      <dl class="channel-facts">
        <dt>{idLabel(c.kind)}</dt>
        <dd>{c.externalId}</dd>
        {c.kind === 'whatsapp' && (
          <>
            <dt>Display number</dt>
            <dd>{c.displayPhoneNumber ?? '—'}</dd>
            <dt>Business account ID</dt>
            <dd>{c.businessAccountId ?? '—'}</dd>
            {c.pacing && (
              <>
                <dt>Sending pace</dt>
                <dd data-pacing>{pacingText(c.pacing)}</dd>
              </>
            )}
          </>
        )}
        <dt>Access token</dt>
        <dd data-secret="accessToken">{c.hasAccessToken ? 'set' : 'not set'}</dd>
        <dt>App secret</dt>
        <dd data-secret="appSecret">{c.hasAppSecret ? 'set' : "not set (the server's META_APP_SECRET)"}</dd>
        <dt>Verify token</dt>
        <dd data-secret="verifyToken">{c.hasVerifyToken ? 'set' : "not set (the server's META_VERIFY_TOKEN)"}</dd>
        <dt>Webhook URL</dt>
        <dd class="mono">{`${location.origin}${c.webhookPath}`}</dd>
      </dl>
      {!c.enabled && <p class="hint">Disabled: its webhooks are acknowledged and logged but not stored, and nothing is sent through it.</p>}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="button" class="chip" onClick={onEdit} aria-label={`Edit ${c.name}`}>
          Edit
        </button>
        <button
          type="button"
          class="chip"
          disabled={busy}
          onClick={() => void toggle()}
          aria-label={`${c.enabled ? 'Disable' : 'Enable'} ${c.name}`}
        >
          {c.enabled ? 'Disable' : 'Enable'}
        </button>
      </div>
      <ChannelAssignment c={c} team={team} />
      <AssigneeOnlySwitch c={c} />
    </li>
  )
}

const CREDENTIALS_LABEL = { verified: 'Verified by Meta', rejected: 'Token rejected', unchecked: 'Not checked yet' } as const

/** What Meta said of the saved token: who the number or Page is, or what to do. Live (channel.updated). */
function Credentials({ c }: { c: ChannelPublic }) {
  const { status, checkedAt, detail } = c.credentials
  return (
    <p class={`credentials cred-${status}`} data-credentials={status} role={status === 'rejected' ? 'alert' : undefined}>
      <strong>{CREDENTIALS_LABEL[status]}</strong>
      {detail && <span>: {detail}</span>}
      {checkedAt !== null && <span class="hint"> (checked {new Date(checkedAt).toLocaleString()})</span>}
    </p>
  )
}

type SecretKey = 'accessToken' | 'appSecret' | 'verifyToken'
const TOKEN_HELP: Record<ChannelKind, string> = {
  whatsapp: 'A permanent system-user token with the whatsapp_business_messaging permission.',
  messenger: 'A Page access token with the pages_messaging permission.',
}
const SECRETS: Array<[SecretKey, string, string | null]> = [
  ['accessToken', 'Access token', null],
  [
    'appSecret',
    'App secret',
    "The Meta app's secret: webhooks for this channel must be signed with it. Empty: the server's META_APP_SECRET.",
  ],
  ['verifyToken', 'Verify token', "Any phrase you also type into Meta's webhook settings. Empty: the server's META_VERIFY_TOKEN."],
]
const hasSecret = (c: ChannelPublic, k: SecretKey) =>
  k === 'accessToken' ? c.hasAccessToken : k === 'appSecret' ? c.hasAppSecret : c.hasVerifyToken

/** Add (channel null) or edit. Secret fields start empty: empty keeps, a value replaces, "Remove" clears. */
function ChannelForm({ kind, channel, onDone }: { kind: ChannelKind; channel: ChannelPublic | null; onDone: () => void }) {
  const app = useApp()
  const [name, setName] = useState(channel?.name ?? '')
  const [externalId, setExternalId] = useState(channel?.externalId ?? '')
  const [display, setDisplay] = useState(channel?.displayPhoneNumber ?? '')
  const [waba, setWaba] = useState(channel?.businessAccountId ?? '')
  const [secrets, setSecrets] = useState<Record<SecretKey, string>>({ accessToken: '', appSecret: '', verifyToken: '' })
  const [remove, setRemove] = useState<Record<SecretKey, boolean>>({ accessToken: false, appSecret: false, verifyToken: false })
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const prefix = channel ? `ch${channel.id}` : `new-${kind}`

  const problem = (): string | null => {
    if (!name.trim()) return 'Give the channel a name, for example “Sales” or “Shop page”.'
    if (!channel && !/^\d{1,32}$/.test(externalId.trim())) return `The ${idLabel(kind)} is digits only, exactly as Meta shows it.`
    if (kind === 'whatsapp' && waba.trim() && !/^\d{1,32}$/.test(waba.trim())) return 'The business account ID is digits only.'
    return null
  }

  const submit = async () => {
    const why = problem()
    if (why) return setError(why)
    setBusy(true)
    setError(null)
    const fields: ChannelPatch = { name: name.trim() }
    if (kind === 'whatsapp') {
      fields.displayPhoneNumber = display.trim() || null
      fields.businessAccountId = waba.trim() || null
    }
    for (const [k] of SECRETS) {
      // An empty string clears a secret on the server; undefined leaves it.
      if (remove[k]) fields[k] = ''
      else if (secrets[k]) fields[k] = secrets[k]
    }
    try {
      if (channel) await updateChannel(app, channel.id, fields)
      else await createChannel(app, { kind, externalId: externalId.trim(), ...fields, name: name.trim() } satisfies ChannelInput)
      onDone()
    } catch (e) {
      setError(channelError(e))
      setBusy(false)
    }
  }

  return (
    <form
      class="channel-form"
      // Our own checks explain a problem in words next to the form (the browser's bubbles vanish).
      noValidate
      aria-label={channel ? `Edit ${channel.name}` : `Add a ${kind === 'whatsapp' ? 'WhatsApp number' : 'Messenger page'}`}
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <h3>{channel ? `Edit ${channelTitle(channel)}` : kind === 'whatsapp' ? 'Add a WhatsApp number' : 'Add a Messenger page'}</h3>
      <label>
        <span>Name</span>
        <input name="name" value={name} maxLength={100} required onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        <span>{idLabel(kind)}</span>
        <input
          name="externalId"
          value={externalId}
          inputMode="numeric"
          pattern="\d{1,32}"
          maxLength={32}
          required
          disabled={channel !== null}
          onInput={(e) => setExternalId(e.currentTarget.value)}
        />
        {channel && <span class="hint">Webhooks route by this ID; to change it, add the number or page anew.</span>}
      </label>
      {kind === 'whatsapp' && (
        <>
          <label>
            <span>
              Display phone number <span class="hint">(optional)</span>
            </span>
            <input name="displayPhoneNumber" value={display} maxLength={32} onInput={(e) => setDisplay(e.currentTarget.value)} />
          </label>
          <label>
            <span>
              WhatsApp Business account ID <span class="hint">(optional, for templates)</span>
            </span>
            <input
              name="businessAccountId"
              value={waba}
              inputMode="numeric"
              maxLength={32}
              onInput={(e) => setWaba(e.currentTarget.value)}
            />
          </label>
        </>
      )}
      {SECRETS.map(([k, label, help]) => {
        const set = channel !== null && hasSecret(channel, k)
        return (
          <div class="secret" key={k}>
            <label for={`${prefix}-${k}`}>
              {label}{' '}
              {channel && (
                <span class={`secret-state ${set ? 'on' : 'off'}`} data-secret-state={k}>
                  {set ? 'set' : 'not set'}
                </span>
              )}
            </label>
            <input
              id={`${prefix}-${k}`}
              name={k}
              type="password"
              autocomplete="new-password"
              spellcheck={false}
              maxLength={1024}
              placeholder={set ? 'Leave empty to keep the saved one' : ''}
              value={secrets[k]}
              disabled={remove[k]}
              onInput={(e) => setSecrets({ ...secrets, [k]: e.currentTarget.value })}
            />
            {set && (
              <label class="inline">
                <input type="checkbox" checked={remove[k]} onChange={(e) => setRemove({ ...remove, [k]: e.currentTarget.checked })} />{' '}
                Remove the saved {label.toLowerCase()}
              </label>
            )}
            <span class="hint">{help ?? TOKEN_HELP[kind]}</span>
          </div>
        )
      })}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : channel ? 'Save changes' : 'Add'}
        </button>
        <button type="button" class="chip" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** "80/s, margin 20 ms" — and why it is wider or paused when Meta said 130429. */
function pacingText(p: NonNullable<ChannelPublic['pacing']>): string {
  const base = `${p.perSecond}/s, margin ${p.marginMs} ms`
  const wider = p.marginMs > p.floorMs ? ` (widened from ${p.floorMs} ms after Meta's rate limit, narrowing back)` : ''
  const paused = p.pausedUntil !== null ? `; paused by Meta's rate limit until ${new Date(p.pausedUntil).toLocaleTimeString()}` : ''
  return base + wider + paused
}
