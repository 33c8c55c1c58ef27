/**
 * Per test file: a backend and a browser started before its tests and stopped after them, and
 * users opened per test. After each test every open page is screenshotted into artifacts/ and
 * its console saved, and the users' contexts are closed.
 */
import { randomUUID } from 'node:crypto'
import { after, afterEach, before, beforeEach } from 'node:test'

import { Backend } from './backend.mjs'
import { Bot } from './bot.mjs'
import { launchBrowser, User } from './browser.mjs'

/** @param {string} text */
function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 32)
    .replace(/^-|-$/g, '')
}

/**
 * @param {string} name labels the backend's log and the artifacts
 * @param {{ env?: Record<string, string> }} [options] settings for the backend
 */
export function useStack(name, { env = {} } = {}) {
  /** @type {Backend | null} */
  let backend = null
  /** @type {import('playwright-core').Browser | null} */
  let browser = null
  /** @type {User[]} */
  let users = []
  /** @type {Bot[]} */
  let bots = []
  let testName = name

  before(async () => {
    const [started, launched] = await Promise.allSettled([
      Backend.start({ name, env }),
      launchBrowser(),
    ])
    // Keep whichever came up, so that `after` stops it even when the other failed.
    if (started.status === 'fulfilled') backend = started.value
    if (launched.status === 'fulfilled') browser = launched.value
    if (started.status === 'rejected') throw started.reason
    if (launched.status === 'rejected') throw launched.reason
  })

  beforeEach((t) => {
    testName = `${name}-${slug(t.name)}`
  })

  afterEach(async () => {
    for (const user of users) {
      const label = `${testName}-${slug(user.name)}`
      if (!user.page.isClosed()) await user.screenshot(`${label}-end`).catch(() => undefined)
      user.saveConsole(label)
      await user.close()
    }
    for (const bot of bots) await bot.close()
    users = []
    bots = []
  })

  after(async () => {
    await browser?.close()
    await backend?.stop()
  })

  return {
    get backend() {
      if (!backend) throw new Error('the backend is not started')
      return backend
    },
    get browser() {
      if (!browser) throw new Error('the browser is not launched')
      return browser
    },
    /**
     * A person with a browser context of their own (not signed up yet), with a unique email
     * unless one is given.
     * @param {string} fullName
     * @param {{ email?: string, context?: import('playwright-core').BrowserContextOptions }} [options]
     */
    async user(fullName, { email, context } = {}) {
      const who = {
        name: fullName,
        email: email ?? `${slug(fullName)}-${randomUUID().slice(0, 8)}@example.com`,
      }
      const user = await User.open(this.browser, this.backend.url, who, context)
      users.push(user)
      return user
    },
    /** A protocol-level participant, signed up and connected. @param {string} fullName */
    async bot(fullName) {
      const email = `${slug(fullName)}-${randomUUID().slice(0, 8)}@example.com`
      const bot = await Bot.connect(this.browser, this.backend.url, { name: fullName, email })
      bots.push(bot)
      return bot
    },
    /** artifacts name prefix of the running test */
    get label() {
      return testName
    },
  }
}
