// Settings → API tokens (issue 16), for everyone: personal tokens for scripts and other
// systems. A token acts as its person (their channels, their role); `read` tokens may only
// read. The value is shown once, right after creating, with Copy; the list shows when each
// was last used, and Revoke ends one at once.
import type { TargetedEvent } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { describeError, request } from '../api/client.ts'
import { CopyField } from './CopyField.tsx'

interface TokenRow {
  id: number
  name: string
  scope: 'read' | 'write'
  createdAt: number
  lastUsedAt: number | null
}

const when = (ms: number) => new Date(ms).toLocaleString()

export function ApiTokensSection() {
  const [tokens, setTokens] = useState<TokenRow[] | null>(null)
  const [name, setName] = useState('')
  const [scope, setScope] = useState<'read' | 'write'>('read')
  const [created, setCreated] = useState<{ name: string; value: string } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const load = () =>
    request<{ tokens: TokenRow[] }>('GET', '/api/tokens').then(
      (r) => setTokens(r.tokens),
      (e) => setError(describeError(e)),
    )
  useEffect(() => void load(), [])

  const create = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const r = await request<{ token: { name: string; value: string } }>('POST', '/api/tokens', { name: name.trim(), scope })
      setCreated({ name: r.token.name, value: r.token.value })
      setName('')
      await load()
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }

  const revoke = async (t: TokenRow) => {
    setError(null)
    try {
      await request('DELETE', `/api/tokens/${t.id}`)
      await load()
    } catch (err) {
      setError(describeError(err))
    }
  }

  return (
    <section aria-labelledby="api-tokens-heading" class="api-tokens">
      <h2 id="api-tokens-heading">API tokens</h2>
      <p class="hint">
        Personal tokens let a script or another system use Parley's API as you, with your channels. Send one as{' '}
        <code>Authorization: Bearer …</code>. A read-only token can only read.
      </p>
      <form class="settings-actions" onSubmit={create} aria-label="Create an API token">
        <label>
          Name <input value={name} maxLength={100} required placeholder="What it is for" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Access{' '}
          <select value={scope} onChange={(e) => setScope(e.currentTarget.value as 'read' | 'write')}>
            <option value="read">Read only</option>
            <option value="write">Read and write</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
          Create token
        </button>
      </form>
      {created && (
        <div class="token-created" role="status">
          <p>Copy the token “{created.name}” now: Parley keeps only a fingerprint of it and will not show it again.</p>
          <CopyField label="New API token" value={created.value} attrs={{ 'data-api-token': '' }} />
          <button type="button" class="chip" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {tokens === null ? (
        <p class="hint">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="hint">No API tokens yet.</p>
      ) : (
        <ul class="token-rows" aria-label="API tokens">
          {tokens.map((t) => (
            <li key={t.id} data-token-id={t.id}>
              <strong>{t.name}</strong> · {t.scope === 'read' ? 'Read only' : 'Read and write'} · created {when(t.createdAt)} ·{' '}
              <span data-last-used>{t.lastUsedAt === null ? 'never used' : `last used ${when(t.lastUsedAt)}`}</span>{' '}
              <button type="button" class="chip" onClick={() => void revoke(t)} aria-label={`Revoke ${t.name}`}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
