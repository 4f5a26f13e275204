// `npm run admin -- <command>`: what the operator of the machine can do when nobody can
// sign in (issue 11: a lost admin password locked the business out). It works on the
// database directly — SQLite in DATA_DIR, like `npm run backup`, or the PostgreSQL server
// DATABASE_URL names (issue 17) — whether Parley runs or not; a running Parley sees the
// ended sessions at once (every request reads the sessions table) and closes their
// streams within seconds (session-revocation.ts).
//
//   list-users                              every account: email, name, role, state
//   reset-password <email>                  prints a single-use link, valid 1 hour
//   reset-password <email> --password-stdin sets the password read from standard input
//   disable-2fa <email>                     turns two-factor sign-in off (a lost phone and lost recovery codes)
import { existsSync } from 'node:fs'
import { text } from 'node:stream/consumers'
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.ts'
import { AppError } from './errors.ts'
import { openDatabase } from './store/db.ts'
import { openPgPool } from './store/pg/db.ts'
import { usePrivateUmask } from './store/data-dir.ts'
import { UsersRepo } from './store/users.ts'
import { AuthService } from './domain/accounts/auth.ts'
import { PasswordResets } from './domain/accounts/password-reset.ts'
import { TwoFactorRepo } from './store/two-factor.ts'
import { AuditLogRepo } from './store/audit-log.ts'
import { PgRunner, SqliteRunner, type UnitRunner } from './store/runner.ts'

const USAGE = `Usage:
  npm run admin -- list-users
  npm run admin -- reset-password <email>                   print a single-use link (valid 1 hour)
  npm run admin -- reset-password <email> --password-stdin  set the password read from standard input
  npm run admin -- disable-2fa <email>                      turn two-factor sign-in off (they set it up again if required)
Both end the person's sessions. DATA_DIR or DATABASE_URL (or .env) selects the database, as for npm start.`

class UsageError extends Error {}

async function listUsers(units: UnitRunner): Promise<void> {
  const rows = await units.read(() => new UsersRepo().all())
  if (rows.length === 0) {
    console.log('No users yet: open Parley to create the admin, or set ADMIN_EMAIL and ADMIN_PASSWORD.')
    return
  }
  const table = [
    ['ID', 'EMAIL', 'NAME', 'ROLE', 'STATE', 'CREATED'],
    ...rows.map((u) => [
      String(u.id),
      u.email,
      u.name,
      u.role,
      u.disabledAt === null ? 'active' : 'disabled',
      new Date(u.createdAt).toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    ]),
  ]
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)))
  for (const r of table)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
}

// The one line of a password given on standard input: a trailing newline (from echo or
// a file) is not part of it, but other whitespace is kept — it may be meant.
function stdinPassword(raw: string): string {
  return raw.replace(/\r?\n$/, '')
}

async function resetPassword(config: Readonly<Config>, units: UnitRunner, args: string[]): Promise<void> {
  const fromStdin = args.includes('--password-stdin')
  const rest = args.filter((a) => a !== '--password-stdin')
  if (rest.length !== 1 || rest[0]!.startsWith('-')) throw new UsageError('reset-password takes one email address')
  const email = rest[0]!.trim().toLowerCase()
  const user = await units.read(() => new UsersRepo().byEmail(email))
  if (!user) throw new UsageError(`No user with the email ${email} (npm run admin -- list-users shows them)`)
  if (user.disabledAt !== null) throw new UsageError(`${email} is disabled; a reset would not let them sign in`)

  const auth = new AuthService({ units }, Date.now)
  const resets = new PasswordResets({ units }, auth, Date.now)
  if (fromStdin) {
    if (process.stdin.isTTY) console.error('Type the new password, then Enter and Ctrl-D:')
    const { sessionsEnded } = await resets.setPassword(user.id, stdinPassword(await text(process.stdin)))
    console.log(`Password set for ${email}. ${sessionsEnded} session(s) ended; they sign in with the new password.`)
    return
  }
  const { token, expiresAt } = await units.transact(() => resets.issueUnit(user.id))
  // A link shown on the operator's screen asks them to pass it on: the old password may
  // be known to someone else, so the sessions end now, not only when the link is used.
  const { sessionsEnded } = await units.transact(() => resets.endSessionsUnit(user.id))
  const base = config.publicUrl ?? `http://localhost:${config.port}`
  console.log(
    `Password reset link for ${email} (single use, valid until ${new Date(expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC):`,
  )
  console.log('')
  console.log(`  ${base}/reset-password#token=${token}`)
  console.log('')
  console.log(`${sessionsEnded} session(s) ended.${config.publicUrl ? '' : ' Set PUBLIC_URL if people open Parley at another address.'}`)
}

/** Issue 16: someone lost their phone and their recovery codes (perhaps the only admin). */
async function disableTwoFactor(units: UnitRunner, args: string[]): Promise<void> {
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError('disable-2fa takes one email address')
  const email = args[0]!.trim().toLowerCase()
  const user = await units.read(() => new UsersRepo().byEmail(email))
  if (!user) throw new UsageError(`No user with the email ${email} (npm run admin -- list-users shows them)`)
  const repo = new TwoFactorRepo()
  // Turned off and audited in one transaction; false when it was not on (nothing written).
  const disabled = await units.transact(function* () {
    if (!(yield* repo.removeEnabled(user.workspaceId, user.id))) return false
    yield* new AuditLogRepo().insert({
      workspaceId: user.workspaceId,
      at: Date.now(),
      actorUserId: null,
      actorLabel: 'npm run admin',
      action: '2fa.disabled',
      targetType: 'user',
      targetId: String(user.id),
      detail: { by: 'admin command' },
      ip: null,
    })
    return true
  })
  if (!disabled) {
    console.log(`Two-factor sign-in is not on for ${email}: nothing to do.`)
    return
  }
  console.log(
    `Two-factor sign-in is off for ${email}; they sign in with their password (and set it up again if the workspace requires it).`,
  )
}

async function main(): Promise<void> {
  usePrivateUmask()
  const [command, ...args] = process.argv.slice(2)
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE)
    return
  }
  if (command !== 'list-users' && command !== 'reset-password' && command !== 'disable-2fa')
    throw new UsageError(`Unknown command "${command}"`)
  loadDotEnv()
  const config = loadConfig()
  const { units, close } = openUnits(config)
  try {
    if (command === 'list-users') await listUsers(units)
    else if (command === 'disable-2fa') await disableTwoFactor(units, args)
    else await resetPassword(config, units, args)
  } finally {
    await close()
  }
}

/** The database npm start would use: SQLite's file in DATA_DIR, or the PostgreSQL server of DATABASE_URL. */
function openUnits(config: Readonly<Config>): { units: UnitRunner; close(): Promise<void> } {
  if (config.database.kind === 'postgres') {
    const pool = openPgPool(config.database.url, { nodeId: `admin-${config.nodeId}`, max: 2 })
    return { units: new PgRunner(pool), close: () => pool.end() }
  }
  // Never create an empty database by mistake (a wrong DATA_DIR): say where we looked.
  if (!existsSync(config.databaseFile)) throw new UsageError(`No Parley database at ${config.databaseFile} (is DATA_DIR right?)`)
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: config.dbBusyTimeoutMs })
  return {
    units: new SqliteRunner(db.$client),
    close: async () => {
      db.$client.close()
    },
  }
}

main().catch((err) => {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${USAGE}`)
    process.exit(2)
  }
  // Named errors (a password too short, a bad PUBLIC_URL) are the whole message.
  console.error(err instanceof AppError || err instanceof ConfigError ? err.message : err)
  process.exit(1)
})
