// A worker thread's entry (store/report-threads.ts): Node runs a worker's modules without the
// main thread's loader, so the worker registers tsx itself, then loads its TypeScript entry.
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entry)
