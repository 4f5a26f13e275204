// `npm run db:copy -- --to postgres://…` (issue 17): copies this data dir's SQLite database
// into an empty PostgreSQL database, the move from one process to several. Safe while Parley
// still runs on the SQLite file (the copy is one consistent snapshot), but what is written
// after the snapshot stays behind: stop Parley first for the real move. The work is
// store/pg/copy.ts.
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { usePrivateUmask } from './store/data-dir.ts'
import { copySqliteToPg, DbCopyError, describePgUrl, withoutPassword } from './store/pg/copy.ts'

const USAGE = `Usage: npm run db:copy -- --to postgresql://user:password@host:5432/parley [--from <parley.db>]
Copies Parley's SQLite database (DATA_DIR/parley.db, or --from) into an EMPTY PostgreSQL database.
Without --to, DATABASE_URL is used when it is a postgres:// URL. Stop Parley first.`

async function main(): Promise<number> {
  usePrivateUmask()
  let args: { to?: string; from?: string; help?: boolean }
  try {
    args = parseArgs({
      options: { to: { type: 'string' }, from: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.help) {
    console.log(USAGE)
    return 0
  }
  loadDotEnv()
  const config = loadConfig()
  const to = args.to ?? (config.database.kind === 'postgres' ? config.database.url : undefined)
  if (!to) {
    console.error(`No target: give --to postgres://… (or set DATABASE_URL to one).\n${USAGE}`)
    return 2
  }
  // Never echo the value: it holds a password.
  if (!/^postgres(ql)?:\/\//.test(to)) {
    console.error(`--to must be a postgres:// or postgresql:// URL.\n${USAGE}`)
    return 2
  }
  const from = args.from ?? config.databaseFile
  try {
    console.log(`Copying ${from} into ${describePgUrl(to)} …`)
    const r = await copySqliteToPg({ from, to, nodeId: config.nodeId })
    const width = Math.max(...r.tables.map((t) => t.name.length))
    for (const t of r.tables) console.log(`  ${t.name.padEnd(width)}  ${String(t.rows).padStart(9)}`)
    const total = r.tables.reduce((n, t) => n + t.rows, 0)
    console.log(`Copied ${total} rows in ${r.tables.length} tables in ${(r.ms / 1000).toFixed(1)} s.`)
    console.log(`Events continue after id ${r.lastEventId}; new stream epoch ${r.epoch}: browsers reload their state.`)
    console.log('Next: set DATABASE_URL to this database and start Parley (copy the media files along: they are not in the database).')
    return 0
  } catch (err) {
    // One line the operator can act on, and never the password, whatever the driver said.
    const message = err instanceof DbCopyError || err instanceof Error ? err.message : String(err)
    console.error(withoutPassword(`db:copy failed: ${message}`, to))
    return 1
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError || err instanceof Error ? err.message : String(err))
    process.exit(1)
  },
)
