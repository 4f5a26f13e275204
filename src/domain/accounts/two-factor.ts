// TOTP two-factor sign-in (issue 16), with otplib (RFC 6238: SHA-1, 6 digits, 30 s steps,
// what every authenticator app reads from an otpauth:// URL).
//
// - setup: a new secret, kept sealed (services.secrets) as *pending* until a code made from
//   it confirms the person's app has it (enable); an enabled secret is never replaced by setup.
// - a code is accepted once: the time step it matched is stored, and only a later step is
//   accepted after it (the update is conditional, so two requests racing with one code
//   cannot both pass). One step of clock skew either way is allowed, no more.
// - 10 recovery codes, shown once at enable (and at regenerate), kept as SHA-256 hashes
//   (50 random bits each: a fast hash is enough, as for password reset links); each works once.
// - time is the app's clock (services.clock), so tests move a fake one.
import { createHash, randomInt } from 'node:crypto'
import { generateSecret, generateURI, verify } from 'otplib'
import { Errors } from '../../errors.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import type { TwoFactorRepo } from '../../store/two-factor.ts'

export const TOTP_PERIOD_SECONDS = 30
const RECOVERY_CODE_COUNT = 10
// Recovery codes: 10 characters from an alphabet without look-alikes (0/o, 1/l/i), shown as xxxxx-xxxxx.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'

export interface TwoFactorStatus {
  enabled: boolean
  /** Setup was started and waits for a code. */
  pending: boolean
  recoveryCodesLeft: number
  /** The workspace requires two-factor sign-in of everyone. */
  required: boolean
}

const normalizeRecovery = (code: string) => code.toLowerCase().replace(/[^a-z0-9]/g, '')
const hashRecovery = (code: string) => createHash('sha256').update(normalizeRecovery(code)).digest('hex')

function newRecoveryCode(): string {
  let s = ''
  for (let i = 0; i < 10; i++) s += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]
  return `${s.slice(0, 5)}-${s.slice(5)}`
}

export class TwoFactor {
  constructor(
    private readonly d: {
      repo: TwoFactorRepo
      secrets: SecretBox
      now: () => number
      /** The name an authenticator app shows beside the account. */
      issuer: string
    },
  ) {}

  status(userId: number, workspaceId: number): TwoFactorStatus {
    const row = this.d.repo.get(userId)
    return {
      enabled: Boolean(row?.enabledAt),
      pending: Boolean(row?.pendingSecret),
      recoveryCodesLeft: row?.enabledAt ? (row.recoveryCodes?.length ?? 0) : 0,
      required: this.d.repo.required(workspaceId),
    }
  }

  isEnabled(userId: number): boolean {
    return Boolean(this.d.repo.get(userId)?.enabledAt)
  }

  required(workspaceId: number): boolean {
    return this.d.repo.required(workspaceId)
  }

  setRequired(workspaceId: number, required: boolean): void {
    this.d.repo.setRequired(workspaceId, required, this.d.now())
  }

  /** A new pending secret and the otpauth:// URL an authenticator app reads. */
  setup(user: { id: number; workspaceId: number; email: string }): { secret: string; otpauthUrl: string } {
    if (this.isEnabled(user.id)) throw Errors.totpAlreadyEnabled()
    const secret = generateSecret()
    this.d.repo.setPending(user.id, user.workspaceId, this.d.secrets.seal(secret))
    return { secret, otpauthUrl: generateURI({ issuer: this.d.issuer, label: user.email, secret, period: TOTP_PERIOD_SECONDS }) }
  }

  /** Confirms the pending secret with a code from it: 2FA is on; the recovery codes, shown once. */
  async enable(userId: number, code: string): Promise<string[]> {
    const row = this.d.repo.get(userId)
    if (row?.enabledAt) throw Errors.totpAlreadyEnabled()
    if (!row?.pendingSecret) throw Errors.totpNotSetUp()
    const step = await this.match(this.d.secrets.open(row.pendingSecret), code)
    if (step === undefined) throw Errors.totpCodeWrong()
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    this.d.repo.enable(userId, row.pendingSecret, this.d.now(), step, codes.map(hashRecovery))
    return codes
  }

  /** Whether this is a current code of the person's enabled secret, not used before (it is used up now). */
  async checkCode(userId: number, code: string): Promise<boolean> {
    const row = this.d.repo.get(userId)
    if (!row?.enabledAt || !row.secret) return false
    const step = await this.match(this.d.secrets.open(row.secret), code)
    if (step === undefined || (row.lastStep !== null && step <= row.lastStep)) return false
    return this.d.repo.advanceStep(userId, step)
  }

  /** Whether this is one of the person's unused recovery codes (it is used up now). */
  useRecoveryCode(userId: number, code: string): boolean {
    if (!this.isEnabled(userId) || normalizeRecovery(code).length !== 10) return false
    return this.d.repo.useRecoveryCode(userId, hashRecovery(code))
  }

  /** New recovery codes (the old ones stop working), shown once. */
  regenerate(userId: number): string[] {
    if (!this.isEnabled(userId)) throw Errors.totpNotEnabled()
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    this.d.repo.setRecoveryCodes(userId, codes.map(hashRecovery))
    return codes
  }

  disable(userId: number): void {
    if (!this.isEnabled(userId)) throw Errors.totpNotEnabled()
    this.d.repo.remove(userId)
  }

  /** The time step a 6-digit code matches, within one step either side of now; undefined when none. */
  private async match(secret: string, code: string): Promise<number | undefined> {
    const token = code.replace(/\s/g, '')
    if (!/^\d{6}$/.test(token)) return undefined
    const result = await verify({
      secret,
      token,
      period: TOTP_PERIOD_SECONDS,
      epoch: Math.floor(this.d.now() / 1000),
      epochTolerance: TOTP_PERIOD_SECONDS,
    })
    return result.valid && 'timeStep' in result ? result.timeStep : undefined
  }
}
