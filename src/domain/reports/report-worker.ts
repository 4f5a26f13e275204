// A report thread (store/report-threads.ts): its own connection to the database file, which
// it only reads (query_only), answering one part of a report's reads at a time. The
// durations' lists travel back to the main thread without a copy (transferred buffers).
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { sqliteConn } from '../../store/conn.ts'
import { ReportsRepo } from '../../store/reports.ts'
import { runSync } from '../../store/unit.ts'
import { type FactsPart, type FactsQuery, readFacts } from './report-facts.ts'

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number }
const sqlite = new Database(file, { fileMustExist: true })
sqlite.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
sqlite.pragma('query_only = ON')
const conn = sqliteConn(sqlite)
const repo = new ReportsRepo()

parentPort!.on('message', (m: { id: number; q: FactsQuery; part: FactsPart }) => {
  try {
    const facts = runSync(readFacts(repo, m.q, m.part), conn)
    const buffers: ArrayBuffer[] = []
    for (const list of [...(facts.firstResponses ?? []), ...(facts.resolutions ?? [])]) {
      buffers.push(list.values.buffer as ArrayBuffer)
      if (list.starts) buffers.push(list.starts.buffer as ArrayBuffer)
    }
    parentPort!.postMessage({ id: m.id, facts }, buffers)
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) })
  }
})
