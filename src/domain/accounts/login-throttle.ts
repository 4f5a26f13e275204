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

interface Window {
  start: number
  count: number
}

// Bounds the memory an attacker inventing emails can make us hold. Unreachable in
// practice (each failure costs an argon2 hash, a few thousand a minute per core); past
// it the oldest windows go first.
const MAX_TRACKED_KEYS = 100_000

class FixedWindows {
  // Insertion order is window-start order (a key is re-inserted when its window restarts),
  // so expired windows are always at the front: sweeping costs what it removes.
  private readonly windows = new Map<string, Window>()

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Ms until this key may try again; 0 when it may now. */
  wait(key: string, now: number): number {
    this.sweep(now)
    const w = this.windows.get(key)
    return w && w.count >= this.max ? w.start + this.windowMs - now : 0
  }

  /** Counts one attempt; true when it is the one that reaches the limit. */
  hit(key: string, now: number): boolean {
    let w = this.windows.get(key)
    if (!w) {
      this.windows.set(key, (w = { start: now, count: 0 }))
      if (this.windows.size > MAX_TRACKED_KEYS) this.windows.delete(this.windows.keys().next().value!)
    }
    w.count++
    return w.count === this.max
  }

  refund(key: string): void {
    const w = this.windows.get(key)
    if (w && w.count > 0) w.count--
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) {
      if (w.start + this.windowMs > now) break
      this.windows.delete(key)
    }
  }
}

export interface LoginThrottleOptions {
  perAccount: number
  perAddress: number
  windowMs: number
}

export type LoginAttempt =
  | { ok: true /** This attempt filled the account's allowance: it is locked if it fails. */; lastForAccount: boolean }
  | { ok: false; retryAfterMs: number }

export class LoginThrottle {
  private readonly accounts: FixedWindows
  private readonly addresses: FixedWindows

  constructor(
    opts: LoginThrottleOptions,
    private readonly now: () => number,
  ) {
    this.accounts = new FixedWindows(opts.perAccount, opts.windowMs)
    this.addresses = new FixedWindows(opts.perAddress, opts.windowMs)
  }

  /** Starts an attempt: refused while the account or the address is locked, else counted. */
  begin(account: string, address: string): LoginAttempt {
    const now = this.now()
    const wait = Math.max(this.accounts.wait(account, now), this.addresses.wait(address, now))
    if (wait > 0) return { ok: false, retryAfterMs: wait }
    this.addresses.hit(address, now)
    return { ok: true, lastForAccount: this.accounts.hit(account, now) }
  }

  /** The attempt was right: it does not count against either. */
  succeeded(account: string, address: string): void {
    this.accounts.refund(account)
    this.addresses.refund(address)
  }
}

/** The account key: the email as the user table stores it. */
export const accountKey = (email: string): string => email.trim().toLowerCase()
