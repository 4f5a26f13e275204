// Budget: the inbox's initial JavaScript (the entry script and every chunk it preloads,
// as index.html references them) stays at or under 40 KB gzipped (issue 5).
import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { ensureWebBuild, WEB_DIST } from './helpers/browser.ts'

const BUDGET_BYTES = 40 * 1024

t.test('initial inbox JS ≤ 40 KB gzipped', async (t) => {
  await ensureWebBuild()
  const html = readFileSync(path.join(WEB_DIST, 'index.html'), 'utf8')
  const scripts = [
    ...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((m) => m[1]!)
  t.ok(scripts.length > 0, 'index.html references its scripts')
  t.notOk(/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script (CSP script-src self)')
  let total = 0
  for (const src of new Set(scripts)) {
    t.match(src, /^\/assets\//, `${src} is a built asset`)
    const gz = gzipSync(readFileSync(path.join(WEB_DIST, src)), { level: 9 }).length
    t.comment(`${src}: ${(gz / 1024).toFixed(1)} KB gzipped`)
    total += gz
  }
  t.comment(`initial inbox JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_BYTES / 1024} KB)`)
  t.ok(total <= BUDGET_BYTES, `initial JS ${total} bytes ≤ ${BUDGET_BYTES}`)
})
