// Browser test helpers: build the web app once per run (only when its sources changed),
// drive Debian's Chromium through playwright-core (no browser download), and read the
// inbox the way an agent sees it.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { ADMIN, type TestLike } from './server.ts'

/** What these helpers need of a tap test. */
export interface BrowserTestLike extends TestLike {
  fail(message: string): unknown
}

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const WEB_DIST = path.join(ROOT, 'web', 'dist')
export const CHROMIUM = '/usr/bin/chromium'
/** How long a live update may take to show before a test gives up (a bound, never a measurement). */
export const LIVE_MS = 5000
/** Per e2e file: a browser on a busy 2-core machine needs more than tap's default 120 s. */
export const E2E_FILE_TIMEOUT_MS = 300_000
/** Recovery after a restart or an outage includes the client's jittered backoff (capped at 20 s). */
export const RECOVER_MS = 30_000

const LOCK = path.join(ROOT, 'web', '.build-lock')
// A build takes a few seconds; a lock older than this was left by a crashed run.
const STALE_LOCK_MS = 120_000

function newestMtime(p: string): number {
  const st = statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  let m = st.mtimeMs
  for (const name of readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, name)))
  return m
}

function isStale(): boolean {
  const built = path.join(WEB_DIST, 'index.html')
  if (!existsSync(built)) return true
  const sources = ['index.html', 'sandbox.html', 'vite.config.ts', 'src'].map((f) => path.join(ROOT, 'web', f))
  const newest = Math.max(...sources.filter(existsSync).map(newestMtime))
  return newest > statSync(built).mtimeMs
}

/**
 * Builds web/dist when missing or older than its sources. Test files run in parallel,
 * so one build at a time (a directory as the lock: mkdir is atomic); the others wait.
 */
export async function ensureWebBuild(): Promise<void> {
  for (;;) {
    if (!isStale()) return
    try {
      mkdirSync(LOCK)
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmdirSync(LOCK)
      } catch {
        /* another waiter removed it */
      }
      await new Promise((r) => setTimeout(r, 250))
      continue
    }
    try {
      if (isStale()) {
        execFileSync(
          process.execPath,
          [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
          {
            cwd: ROOT,
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        )
      }
      return
    } finally {
      rmdirSync(LOCK)
    }
  }
}

export async function launchBrowser(t: BrowserTestLike): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Background tabs must keep running their timers and streams like foreground ones.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  })
  t.teardown(() => browser.close())
  return browser
}

/** Fails the test on any script dialog, page error or CSP violation: the XSS corpus and the app itself. */
export function watchPage(t: BrowserTestLike, page: Page, label = 'page'): void {
  page.on('dialog', (d) => {
    t.fail(`${label}: a dialog opened (${d.type()}: ${d.message()})`)
    void d.dismiss()
  })
  page.on('pageerror', (e) => t.fail(`${label}: page error ${e.message}`))
  // The built app must live within the server's CSP (script-src 'self', no inline code).
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) t.fail(`${label}: CSP violation: ${m.text()}`)
  })
}

/** A fresh agent browser (own cookies), signed in through the login form. */
export async function agentPage(
  t: BrowserTestLike,
  browser: Browser,
  url: string,
  creds: { email: string; password: string } = ADMIN,
  viewport = { width: 1200, height: 1400 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport })
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  watchPage(t, page, creds.email)
  await page.goto(url)
  await page.fill('input[name=email]', creds.email)
  await page.fill('input[name=password]', creds.password)
  await page.click('button[type=submit]')
  await page.waitForSelector('#conversation-list')
  await waitLive(page)
  return { context, page }
}

export async function waitLive(page: Page, timeout = RECOVER_MS): Promise<void> {
  await page.waitForSelector('[data-connection="live"]', { timeout })
}

/** The conversation list's rows as the agent sees them, top to bottom. */
export function listRows(page: Page): Promise<Array<{ id: number; name: string; unread: number; preview: string }>> {
  return page.$$eval('[role=option][data-conversation-id]', (rows) =>
    rows
      .map((r) => ({
        id: Number((r as HTMLElement).dataset.conversationId),
        top: r.getBoundingClientRect().top,
        name: r.querySelector('.conv-name')?.textContent ?? '',
        unread: Number(r.querySelector('[data-unread]')?.getAttribute('data-unread') ?? 0),
        preview: r.querySelector('.conv-preview')?.textContent ?? '',
      }))
      .sort((a, b) => a.top - b.top)
      .map(({ top: _top, ...rest }) => rest),
  )
}

/** The texts of the message bubbles on screen (confirmed and pending), in order. */
export function bubbleTexts(page: Page): Promise<string[]> {
  return page.$$eval('.msg', (els) =>
    els
      .map((e) => ({ top: e.getBoundingClientRect().top, text: e.querySelector('.text')?.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((x) => x.text),
  )
}

/** Waits until the open conversation shows every text exactly once. */
export async function waitForBubbles(page: Page, texts: string[], timeout = LIVE_MS): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const have = [...document.querySelectorAll('.msg .text')].map((e) => e.textContent)
      return want.every((w) => have.filter((h) => h === w).length === 1)
    },
    texts,
    { timeout, polling: 50 },
  )
}

export async function openConversation(page: Page, id: number): Promise<void> {
  await page.click(`[role=option][data-conversation-id="${id}"]`)
  await page.waitForSelector(`[data-conversation="${id}"] .chat-scroll`)
}
