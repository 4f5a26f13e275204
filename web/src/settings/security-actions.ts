// Two-factor sign-in and the audit log (issue 16): the only callers of their routes.
// Loaded with the settings and the sign-in screens (lazy chunks), never with the inbox.
import { ApiError, download, qs, request } from '../api/client.ts'
import type { User } from '../api/http.ts'

export interface TwoFactorStatus {
  enabled: boolean
  pending: boolean
  recoveryCodesLeft: number
  required: boolean
}
export interface TwoFactorSetup {
  secret: string
  otpauthUrl: string
}
/** A password or a code (authenticator or recovery) confirming a change. */
export type Proof = { password: string } | { code: string }

export interface AuditEntry {
  id: number
  at: number
  action: string
  actor: { userId: number | null; name: string | null; label: string | null }
  target: { type: string; id: string } | null
  detail: Record<string, unknown> | null
  ip: string | null
}

export const twoFactor = {
  status: () => request<TwoFactorStatus>('GET', '/api/me/2fa'),
  /** `setupToken`: from a sign-in answered TOTP_SETUP_REQUIRED (no session yet). */
  setup: (setupToken?: string) =>
    request<TwoFactorSetup>('POST', '/api/me/2fa/setup', setupToken ? { setupToken } : {}, { quiet401: !!setupToken }),
  enable: (code: string, setupToken?: string) =>
    request<{ recoveryCodes: string[]; user?: User; expiresAt?: number }>(
      'POST',
      '/api/me/2fa/enable',
      setupToken ? { code, setupToken } : { code },
      { quiet401: !!setupToken },
    ),
  disable: (proof: Proof) => request<{ ok: true }>('POST', '/api/me/2fa/disable', proof),
  regenerate: (proof: Proof) => request<{ recoveryCodes: string[] }>('POST', '/api/me/2fa/recovery-codes', proof),
  required: () => request<{ required: boolean }>('GET', '/api/settings/two-factor'),
  setRequired: (required: boolean) => request<{ required: boolean }>('PUT', '/api/settings/two-factor', { required }),
}

export const auditLog = {
  page: (cursor: string | null, limit = 50) =>
    request<{ entries: AuditEntry[]; nextCursor: string | null }>('GET', `/api/audit${qs({ cursor, limit })}`),
  /** Downloads the whole log as CSV (through the session cookie; the export is itself audited). */
  async exportCsv(): Promise<void> {
    const res = await download('/api/audit.csv')
    const url = URL.createObjectURL(await res.blob())
    const a = document.createElement('a')
    a.href = url
    a.download = 'parley-audit-log.csv'
    a.hidden = true
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 60_000)
  },
}

/** A refusal in words. */
export const securityError = (e: unknown) =>
  e instanceof ApiError ? (e.status === 0 ? 'Parley could not be reached.' : e.message) : e instanceof Error ? e.message : String(e)
