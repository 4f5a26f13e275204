// `npm run dev`: the Fastify server (API, stream, webhooks, sandbox) plus Vite's dev
// server with hot reload, which proxies those paths to it (see vite.config.ts).
// One command, and stopping it stops both.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createServer } from 'vite'

// The API server listens here; Vite serves the pages on its own port (5173).
const API_PORT = process.env.PORT ?? '3000'
process.env.PARLEY_DEV_API ??= `http://127.0.0.1:${API_PORT}`

const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../src/main.ts', import.meta.url))], {
  stdio: 'inherit',
  env: { ...process.env, PORT: API_PORT },
})
const vite = await createServer({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)) })
await vite.listen()
vite.printUrls()

const stop = async () => {
  server.kill('SIGTERM')
  await vite.close()
  process.exit(0)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
server.on('exit', (code) => {
  console.error(`API server exited (${code}); stopping the dev server`)
  void vite.close().then(() => process.exit(code ?? 1))
})
