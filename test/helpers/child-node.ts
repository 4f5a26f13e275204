// A child process for the multi-process tests (issue 17): forked with tsx, talking over IPC.
// `next(key)` waits for the child's next message carrying `key` (messages queue until asked
// for), and fails when the child exits first; `ask` sends a command and waits for its answer.
// The child is killed at the test's end, even a stopped one (SIGCONT first).
import { type ChildProcess, fork } from 'node:child_process'
import type { Test } from 'tap'

export type Message = Record<string, unknown>

export interface ChildNode {
  child: ChildProcess
  next<T extends Message = Message>(key: string): Promise<T>
  ask<T extends Message = Message>(msg: Message, key: string): Promise<T>
}

export function startChildNode(t: Test, module: string, name: string, env: Record<string, string>): ChildNode {
  const child = fork(module, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: 'inherit' })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
  })
  const inbox: Message[] = []
  const waiters: Array<() => void> = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  child.on('message', (m: Message) => {
    if (m.error) t.comment(`${name}: ${String(m.error)}`)
    inbox.push(m)
    wake()
  })
  child.on('exit', wake)
  const next = async <T extends Message>(key: string): Promise<T> => {
    for (;;) {
      const i = inbox.findIndex((m) => key in m)
      if (i >= 0) return inbox.splice(i, 1)[0] as T
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode})`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  const ask = <T extends Message>(msg: Message, key: string) => {
    child.send(msg)
    return next<T>(key)
  }
  return { child, next, ask }
}
