// Password resets: single-use links (issued by `npm run admin -- reset-password`, by
// "Forgot password?" mail and by an admin in Settings → Team, issue 13) and setting a
// password directly. Either way the person's sessions end: a reset is what you do when a password
// may be known to someone else.
//
// The token is 32 random bytes; only its SHA-256 is stored. A slow hash (argon2) is not
// needed for 256 bits of entropy, and the lookup by hash stays one indexed read.
import { createHash, randomBytes } from 'node:crypto'
import { Errors } from '../../errors.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { PasswordResetsRepo } from '../../store/password-resets.ts'
import type { AuthService, UserRow } from './auth.ts'

/** The issue: "a single-use link valid 1 hour". Long enough to open it, short enough to age out of a chat log. */
export const RESET_LINK_TTL_MS = 3600_000
/** The signup rule (`POST /api/setup`): at least 8 characters; 1024 bounds the hashing work. */
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 1024

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw Errors.passwordInvalid(`The password must be at least ${PASSWORD_MIN_LENGTH} characters`)
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw Errors.passwordInvalid(`The password must be at most ${PASSWORD_MAX_LENGTH} characters`)
  }
}

export interface IssuedReset {
  token: string
  expiresAt: number
}

export class PasswordResets {
  private readonly resets = new PasswordResetsRepo()
  /** Where the asynchronous methods run their units (either database). */
  private readonly units: UnitRunner

  constructor(
    io: { units: UnitRunner },
    private readonly auth: AuthService,
    private readonly now: () => number,
  ) {
    this.units = io.units
  }

  /** A new link for this user; any earlier unused one stops working (only the newest is valid). */
  *issueUnit(userId: number, ttlMs = RESET_LINK_TTL_MS): Q<IssuedReset> {
    const token = randomBytes(32).toString('base64url')
    const now = this.now()
    const expiresAt = now + ttlMs
    yield* this.resets.issue(userId, hashToken(token), expiresAt, now)
    return { token, expiresAt }
  }

  /** Whose link this is, or the named reason it cannot be used. */
  *checkUnit(token: string): Q<{ user: UserRow; expiresAt: number }> {
    const row = yield* this.resets.byTokenHash(hashToken(token))
    if (!row) throw Errors.resetLinkInvalid()
    if (row.usedAt !== null) throw Errors.resetLinkUsed()
    if (row.expiresAt <= this.now()) throw Errors.resetLinkExpired()
    const user = yield* this.auth.userUnit(row.userId)
    if (!user || user.disabledAt !== null) throw Errors.resetLinkInvalid()
    return { user, expiresAt: row.expiresAt }
  }

  /**
   * Sets the password the link's owner chose and ends their sessions (and their other
   * links). Single use even under a race: the token is claimed by a conditional UPDATE in
   * the same transaction that changes the password, after the (slow, async) hash is computed.
   */
  async consume(token: string, password: string): Promise<UserRow> {
    checkPassword(password)
    const { user } = await this.units.read(() => this.checkUnit(token))
    const passwordHash = await this.auth.hashPassword(password)
    const done = await this.units.transact(() => this.resets.consume(hashToken(token), user.id, passwordHash, this.now()))
    if (!done) throw Errors.resetLinkUsed()
    return { ...user, passwordHash }
  }

  /** Ends every session of the user now (their streams close; see session-revocation.ts). */
  endSessionsUnit(userId: number): Q<{ sessionsEnded: number }> {
    return this.resets.endSessions(userId, this.now())
  }

  /** `--password-stdin`: the operator chose the password; sessions end as with a link. */
  async setPassword(userId: number, password: string): Promise<{ sessionsEnded: number }> {
    checkPassword(password)
    const passwordHash = await this.auth.hashPassword(password)
    return this.units.transact(() => this.resets.setPassword(userId, passwordHash, this.now()))
  }
}
