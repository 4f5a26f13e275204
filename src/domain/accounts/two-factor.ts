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
// - written as units of work (issue 17): one transaction reads the row, checks the code and
//   writes, on SQLite or PostgreSQL. Codes are checked with otplib's verifySync (HMAC, no I/O),
//   so a unit never waits on anything but the database.
// - every method takes the person as {id, workspaceId} (a user row or the session): their row
//   is only ever read or changed within their own workspace.
import { createHash, randomInt } from 'node:crypto'
import { generateSecret, generateURI, verifySync } from 'otplib'
import { Errors } from '../../errors.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import type { TwoFactorRepo } from '../../store/two-factor.ts'
import type { Q } from '../../store/unit.ts'

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

/** Whose 2FA: a user row or a session's {userId, workspaceId} as {id, workspaceId}. */
export interface TwoFactorPerson {
  id: number
  workspaceId: number
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

  *status(who: TwoFactorPerson): Q<TwoFactorStatus> {
    const row = yield* this.d.repo.get(who.workspaceId, who.id)
    return {
      enabled: Boolean(row?.enabledAt),
      pending: Boolean(row?.pendingSecret),
      recoveryCodesLeft: row?.enabledAt ? (row.recoveryCodes?.length ?? 0) : 0,
      required: yield* this.d.repo.required(who.workspaceId),
    }
  }

  *isEnabled(who: TwoFactorPerson): Q<boolean> {
    return Boolean((yield* this.d.repo.get(who.workspaceId, who.id))?.enabledAt)
  }

  requiredUnit(workspaceId: number): Q<boolean> {
    return this.d.repo.required(workspaceId)
  }

  setRequiredUnit(workspaceId: number, required: boolean): Q<void> {
    return this.d.repo.setRequired(workspaceId, required, this.d.now())
  }

  /** A new pending secret and the otpauth:// URL an authenticator app reads. */
  *setup(user: TwoFactorPerson & { email: string }): Q<{ secret: string; otpauthUrl: string }> {
    if (yield* this.isEnabled(user)) throw Errors.totpAlreadyEnabled()
    const secret = generateSecret()
    yield* this.d.repo.setPending(user.workspaceId, user.id, this.d.secrets.seal(secret))
    return { secret, otpauthUrl: generateURI({ issuer: this.d.issuer, label: user.email, secret, period: TOTP_PERIOD_SECONDS }) }
  }

  /** Confirms the pending secret with a code from it: 2FA is on; the recovery codes, shown once. */
  *enable(who: TwoFactorPerson, code: string): Q<string[]> {
    const row = yield* this.d.repo.get(who.workspaceId, who.id)
    if (row?.enabledAt) throw Errors.totpAlreadyEnabled()
    if (!row?.pendingSecret) throw Errors.totpNotSetUp()
    const step = this.match(this.d.secrets.open(row.pendingSecret), code)
    if (step === undefined) throw Errors.totpCodeWrong()
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    const enabled = yield* this.d.repo.enable(who.workspaceId, who.id, row.pendingSecret, this.d.now(), step, codes.map(hashRecovery))
    // Another request enabled it, or restarted setup (a new secret, which this code is not from),
    // between our read and our write (PostgreSQL, several processes): say what it is now.
    if (!enabled) throw (yield* this.isEnabled(who)) ? Errors.totpAlreadyEnabled() : Errors.totpCodeWrong()
    return codes
  }

  /** Whether this is a current code of the person's enabled secret, not used before (it is used up now). */
  *checkCode(who: TwoFactorPerson, code: string): Q<boolean> {
    const row = yield* this.d.repo.get(who.workspaceId, who.id)
    if (!row?.enabledAt || !row.secret) return false
    const step = this.match(this.d.secrets.open(row.secret), code)
    if (step === undefined || (row.lastStep !== null && step <= row.lastStep)) return false
    return yield* this.d.repo.advanceStep(who.workspaceId, who.id, step)
  }

  /** Whether this is one of the person's unused recovery codes (it is used up now). */
  *useRecoveryCode(who: TwoFactorPerson, code: string): Q<boolean> {
    if (normalizeRecovery(code).length !== 10) return false
    // Only an enabled 2FA's codes (the repository's reads ask for enabled_at).
    return yield* this.d.repo.useRecoveryCode(who.workspaceId, who.id, hashRecovery(code))
  }

  /** New recovery codes (the old ones stop working), shown once. */
  *regenerate(who: TwoFactorPerson): Q<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    if (!(yield* this.d.repo.setRecoveryCodes(who.workspaceId, who.id, codes.map(hashRecovery)))) throw Errors.totpNotEnabled()
    return codes
  }

  *disable(who: TwoFactorPerson): Q<void> {
    if (!(yield* this.d.repo.removeEnabled(who.workspaceId, who.id))) throw Errors.totpNotEnabled()
  }

  /** The time step a 6-digit code matches, within one step either side of now; undefined when none. */
  private match(secret: string, code: string): number | undefined {
    const token = code.replace(/\s/g, '')
    if (!/^\d{6}$/.test(token)) return undefined
    // verifySync: a pure HMAC (otplib's default crypto plugin), so it can run inside a unit of work.
    const result = verifySync({
      secret,
      token,
      period: TOTP_PERIOD_SECONDS,
      epoch: Math.floor(this.d.now() / 1000),
      epochTolerance: TOTP_PERIOD_SECONDS,
    })
    return result.valid && 'timeStep' in result ? result.timeStep : undefined
  }
}
