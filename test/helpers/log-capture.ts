// An app's log as written (JSON lines), for tests that check what a log holds: the stream to
// give startServer, the text, the parsed lines, and a way to wait for a line (request lines are
// written when responses finish, after the client has its answer).
import { Writable } from 'node:stream'

export interface LogLine {
  level: number
  msg: string
  url?: string
  method?: string
  statusCode?: number
  [k: string]: unknown
}

export function captureLog(timeoutMs = 15_000) {
  let text = ''
  const waiters = new Set<() => void>()
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString()
      for (const w of [...waiters]) w()
      cb()
    },
  })
  const lines = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine)
  const waitFor = (pred: (l: LogLine) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!lines().some(pred)) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no log line: ${what}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return { stream, text: () => text, lines, waitFor }
}

export type LogCapture = ReturnType<typeof captureLog>
