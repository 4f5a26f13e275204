// Two pages from one build: the agent inbox (index.html) and the sandbox's customer
// simulator (sandbox.html). Fastify serves web/dist; `npm run dev` proxies the API.
import { defineConfig } from 'vite'
import preact from '@preact/preset-vite'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
// The Fastify server the dev server forwards API, stream and webhook calls to.
const API_TARGET = process.env.PARLEY_DEV_API ?? 'http://127.0.0.1:3000'

export default defineConfig({
  root,
  plugins: [
    preact(),
    {
      // Fastify serves the simulator at /sandbox; the dev server does the same.
      name: 'parley-sandbox-path',
      configureServer(server) {
        server.middlewares.use((req, _res, next) => {
          if (req.url === '/sandbox' || req.url?.startsWith('/sandbox?')) req.url = `/sandbox.html${req.url.slice(8)}`
          next()
        })
      },
    },
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Chromium, Firefox and Safari of the last years all support modulepreload;
    // the polyfill would cost bytes in the initial bundle for nobody.
    modulePreload: { polyfill: false },
    target: 'es2022',
    rollupOptions: {
      input: {
        index: `${root}index.html`,
        sandbox: `${root}sandbox.html`,
      },
    },
  },
  server: {
    proxy: {
      '/api': API_TARGET,
      '/webhooks': API_TARGET,
      '/sandbox/graph': API_TARGET,
      // SSE must not be buffered or compressed by the proxy.
      '/stream': { target: API_TARGET, headers: { 'accept-encoding': 'identity' } },
    },
  },
})
