// Login throttling (issue 11, point 15). Two counters, each over fixed one-minute
// windows: per account (across every address, so guessing one account from many
// addresses is slowed as much as from one) and per address (across accounts, with a
// higher limit, so one address cannot spray a password over every account). Keyed on
// the parsed body, which is why this lives in the login handler and not in a rate-limit
// plugin that runs before the body exists: a locked account never blocks another one.
//
// An attempt is counted when it starts and refunded when it succeeds: checks that run in
// parallel (argon2 is async) cannot all pass before the first failure is counted, and a
// right password does not use up the allowance.
//
// The windows live in the database (issue 17: table login_attempts), so the limits hold
// across every process behind a load balancer, not per process. Each key is one row; a
// window is counted by a conditional upsert (the count goes up only while under the limit
// or once the window has ended), so attempts racing on other processes cannot slip past
// the limit between the check and the count. Times are the app's clock (tests move it);
// processes' clocks a little apart only shift a window by that much. Rows whose window has
// ended are swept here, at most once a window per process: the table holds at most the
// keys tried within the last window (each failure costs an argon2 hash, a few thousand a
// minute per core).
import type { UnitRunner } from '../../store/runner.ts'
import { get, type Q, run } from '../../store/unit.ts'

export interface LoginThrottleOptions {
  /** Which throttle ('login', 'reset-request'): each has its own keys in the one table. */
  name: string
  perAccount: number
  perAddress: number
  windowMs: number
}

export type LoginAttempt =
  | { ok: true /** This attempt filled the account's allowance: it is locked if it fails. */; lastForAccount: boolean }
  | { ok: false; retryAfterMs: number }

const WINDOW = `SELECT attempts, expires_at AS "expiresAt" FROM login_attempts WHERE key = ?`
// One attempt: a new window when there is none or it has ended, else one more while under
// the limit; nothing (no row returned) when the window is full.
const HIT = `INSERT INTO login_attempts (key, attempts, expires_at) VALUES (?, 1, ?)
  ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN login_attempts.expires_at <= ? THEN 1 ELSE login_attempts.attempts + 1 END,
    expires_at = CASE WHEN login_attempts.expires_at <= ? THEN ? ELSE login_attempts.expires_at END
  WHERE login_attempts.expires_at <= ? OR login_attempts.attempts < ?
  RETURNING attempts`
const REFUND = `UPDATE login_attempts SET attempts = attempts - 1 WHERE key = ? AND attempts > 0`
const SWEEP = `DELETE FROM login_attempts WHERE expires_at <= ?`

export class LoginThrottle {
  private lastSweep = Number.NEGATIVE_INFINITY

  constructor(
    private readonly opts: LoginThrottleOptions,
    private readonly now: () => number,
    private readonly units: UnitRunner,
  ) {}

  /** Starts an attempt: refused while the account or the address is locked, else counted. */
  begin(account: string, address: string): Promise<LoginAttempt> {
    return this.units.transact(() => this.beginUnit(account, address))
  }

  /** The attempt was right: it does not count against either. */
  succeeded(account: string, address: string): Promise<void> {
    return this.units.transact(() => this.succeededUnit(account, address))
  }

  *beginUnit(account: string, address: string): Q<LoginAttempt> {
    const now = this.now()
    const { perAccount, perAddress, windowMs } = this.opts
    if (now - this.lastSweep >= windowMs) {
      this.lastSweep = now
      yield* run(SWEEP, [now])
    }
    const accountKey = this.key('a', account)
    const addressKey = this.key('i', address)
    const wait = Math.max(yield* this.wait(accountKey, perAccount, now), yield* this.wait(addressKey, perAddress, now))
    if (wait > 0) return { ok: false, retryAfterMs: wait }
    const accountHit = yield* this.hit(accountKey, perAccount, now)
    // Filled meanwhile by an attempt on another process: refused as if it had been first.
    if (accountHit === undefined) return { ok: false, retryAfterMs: Math.max(1, yield* this.wait(accountKey, perAccount, now)) }
    const addressHit = yield* this.hit(addressKey, perAddress, now)
    if (addressHit === undefined) {
      yield* run(REFUND, [accountKey])
      return { ok: false, retryAfterMs: Math.max(1, yield* this.wait(addressKey, perAddress, now)) }
    }
    return { ok: true, lastForAccount: accountHit === perAccount }
  }

  *succeededUnit(account: string, address: string): Q<void> {
    yield* run(REFUND, [this.key('a', account)])
    yield* run(REFUND, [this.key('i', address)])
  }

  private key(kind: 'a' | 'i', value: string): string {
    return `${this.opts.name}:${kind}:${value}`
  }

  /** Ms until this key may try again; 0 when it may now. */
  private *wait(key: string, max: number, now: number): Q<number> {
    const w = yield* get<{ attempts: number; expiresAt: number }>(WINDOW, [key])
    return w && w.expiresAt > now && Number(w.attempts) >= max ? Number(w.expiresAt) - now : 0
  }

  /** Counts one attempt: the attempts in the window now, or undefined when it was full. */
  private *hit(key: string, max: number, now: number): Q<number | undefined> {
    const end = now + this.opts.windowMs
    const row = yield* get<{ attempts: number }>(HIT, [key, end, now, now, end, now, max])
    return row === undefined ? undefined : Number(row.attempts)
  }
}

/** The account key: the email as the user table stores it. */
export const accountKey = (email: string): string => email.trim().toLowerCase()
