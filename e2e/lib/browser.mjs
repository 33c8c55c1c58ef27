/**
 * Debian's Chromium through playwright-core. One browser per test file (Playwright gives it a
 * fresh temporary user-data dir), one context per user: separate cookies, storage and sockets.
 *
 * Every page is instrumented: console errors, uncaught exceptions and dialogs are collected
 * (a dialog is dismissed and recorded, so an injected `alert` is caught, never obeyed); every
 * WebSocket is recorded with the frames it carried; and the connection badge's `data-status`
 * history is kept in the page (`window.__e2eBadgeHistory`) by a MutationObserver.
 */
import { existsSync, writeFileSync } from 'node:fs'

import { chromium } from 'playwright-core'

import { artifact } from './paths.mjs'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export function chromiumPath() {
  const executable = process.env.CHROMIUM || '/usr/bin/chromium'
  if (!existsSync(executable)) {
    throw new Error(
      `Chromium not found at ${executable}: install Debian's \`chromium\` (apt-get install chromium) ` +
        "or set CHROMIUM to its path. A test tool's own browser download does not work here.",
    )
  }
  return executable
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
  })
}

/** Records the badge's status every time it changes, from the first paint on. */
function badgeRecorder() {
  /** @type {string[]} */
  const history = []
  Object.defineProperty(window, '__e2eBadgeHistory', { value: history })
  const record = () => {
    const badge = document.querySelector('[data-testid="connection-badge"]')
    const status = badge?.getAttribute('data-status')
    if (status && history[history.length - 1] !== status) history.push(status)
  }
  new MutationObserver(record).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-status'],
  })
}

/**
 * @typedef {{ url: string, sent: any[], received: any[], closed: boolean,
 *   socket: import('playwright-core').WebSocket }} SocketRecord
 */

export class User {
  /**
   * @param {import('playwright-core').Browser} browser
   * @param {string} baseURL
   * @param {{ name: string, email: string, password?: string }} who
   * @param {import('playwright-core').BrowserContextOptions} [options]
   */
  static async open(browser, baseURL, who, options = {}) {
    const context = await browser.newContext({
      baseURL,
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
      ...options,
    })
    context.setDefaultTimeout(15_000)
    await context.addInitScript(badgeRecorder)
    const page = await context.newPage()
    return new User(context, page, who)
  }

  /**
   * @param {import('playwright-core').BrowserContext} context
   * @param {import('playwright-core').Page} page
   * @param {{ name: string, email: string, password?: string }} who
   */
  constructor(context, page, who) {
    this.context = context
    this.page = page
    this.name = who.name
    this.email = who.email
    this.password = who.password ?? 'correct horse battery staple'
    /** The user's id, known once signed in (see chat.mjs). @type {number | null} */
    this.id = null
    /** @type {string[]} */
    this.dialogs = []
    /** @type {string[]} */
    this.pageErrors = []
    /** @type {string[]} */
    this.console = []
    /** @type {SocketRecord[]} */
    this.sockets = []
    /** "<status> <method> <path>" of every REST call the app made. @type {string[]} */
    this.api = []

    page.on('dialog', (dialog) => {
      this.dialogs.push(`${dialog.type()}: ${dialog.message()}`)
      dialog.dismiss().catch(() => undefined)
    })
    page.on('pageerror', (error) => this.pageErrors.push(String(error)))
    page.on('response', (response) => {
      const url = new URL(response.url())
      if (url.pathname.startsWith('/api/')) {
        this.api.push(`${response.status()} ${response.request().method()} ${url.pathname}`)
      }
    })
    page.on('console', (message) => this.console.push(`[${message.type()}] ${message.text()}`))
    page.on('websocket', (socket) => {
      /** @type {SocketRecord} */
      const record = { url: socket.url(), sent: [], received: [], closed: false, socket }
      const parse = (/** @type {string | Buffer} */ payload) => {
        try {
          return JSON.parse(String(payload))
        } catch {
          return payload
        }
      }
      socket.on('framesent', ({ payload }) => record.sent.push(parse(payload)))
      socket.on('framereceived', ({ payload }) => record.received.push(parse(payload)))
      socket.on('close', () => {
        record.closed = true
      })
      this.sockets.push(record)
    })
  }

  /** The app's sockets (not a bot's or anything else the page opened). */
  get appSockets() {
    return this.sockets.filter((record) => record.url.endsWith('/api/v1/socket'))
  }

  /** The connection badge's statuses, in the order shown, since the page loaded. */
  async badgeHistory() {
    return this.page.evaluate(() => [.../** @type {any} */ (window).__e2eBadgeHistory])
  }

  /** @param {string} name */
  async screenshot(name) {
    await this.page.screenshot({ path: artifact(`${name}.png`) })
  }

  /** Writes the page's console to artifacts/<name>-console.log. @param {string} name */
  saveConsole(name) {
    writeFileSync(artifact(`${name}-console.log`), this.console.join('\n') + '\n')
  }

  async close() {
    await this.context.close().catch(() => undefined)
  }
}
