// TOTP two-factor rows (issue 16): the sealed secret (or the one pending confirmation),
// the last time step accepted, and the hashes of the unused recovery codes; and each
// workspace's "required for everyone" switch. Sealing and hashing are the caller's
// (domain/accounts/two-factor.ts): this file stores what it is given.
import { eq } from 'drizzle-orm'
import type { Db } from './db.ts'
import { twoFactor, twoFactorPolicy } from './schema.ts'

export type TwoFactorRow = typeof twoFactor.$inferSelect

export class TwoFactorRepo {
  constructor(private readonly db: Db) {}

  get(userId: number): TwoFactorRow | undefined {
    return this.db.select().from(twoFactor).where(eq(twoFactor.userId, userId)).get()
  }

  /** Starts (or restarts) setup: a new pending secret; an enabled secret is kept. */
  setPending(userId: number, workspaceId: number, pendingSecret: string): void {
    this.db
      .insert(twoFactor)
      .values({ userId, workspaceId, pendingSecret })
      .onConflictDoUpdate({ target: twoFactor.userId, set: { pendingSecret } })
      .run()
  }

  enable(userId: number, secret: string, at: number, lastStep: number, recoveryCodes: string[]): void {
    this.db
      .update(twoFactor)
      .set({ secret, pendingSecret: null, enabledAt: at, lastStep, recoveryCodes })
      .where(eq(twoFactor.userId, userId))
      .run()
  }

  /**
   * Records an accepted time step, only if it is later than the last one: false when
   * another request took this step (or a later one) first.
   */
  advanceStep(userId: number, step: number): boolean {
    return (
      this.db.$client
        .prepare('UPDATE two_factor SET last_step = ? WHERE user_id = ? AND (last_step IS NULL OR last_step < ?)')
        .run(step, userId, step).changes === 1
    )
  }

  setRecoveryCodes(userId: number, recoveryCodes: string[]): void {
    this.db.update(twoFactor).set({ recoveryCodes }).where(eq(twoFactor.userId, userId)).run()
  }

  /** Removes one unused recovery code by its hash: false when it was not there (unknown or used). */
  useRecoveryCode(userId: number, hash: string): boolean {
    return this.db.transaction((tx) => {
      const row = tx.select({ codes: twoFactor.recoveryCodes }).from(twoFactor).where(eq(twoFactor.userId, userId)).get()
      const codes = row?.codes ?? []
      if (!codes.includes(hash)) return false
      tx.update(twoFactor)
        .set({ recoveryCodes: codes.filter((c) => c !== hash) })
        .where(eq(twoFactor.userId, userId))
        .run()
      return true
    })
  }

  remove(userId: number): void {
    this.db.delete(twoFactor).where(eq(twoFactor.userId, userId)).run()
  }

  required(workspaceId: number): boolean {
    return (
      this.db.select({ r: twoFactorPolicy.required }).from(twoFactorPolicy).where(eq(twoFactorPolicy.workspaceId, workspaceId)).get()?.r ??
      false
    )
  }

  setRequired(workspaceId: number, required: boolean, at: number): void {
    this.db
      .insert(twoFactorPolicy)
      .values({ workspaceId, required, updatedAt: at })
      .onConflictDoUpdate({ target: twoFactorPolicy.workspaceId, set: { required, updatedAt: at } })
      .run()
  }
}
