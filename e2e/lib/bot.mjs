/**
 * A third participant that speaks the wire protocol directly (docs/protocol.md), for seeding
 * and for reading the server's own record. Node 20 has no WebSocket without a flag, so the
 * socket lives in a page of its own browser context, opened on the app's origin (the health
 * endpoint), which also gives it the Origin header the server allows. REST goes through Node's
 * fetch.
 */
import { randomUUID } from 'node:crypto'

/**
 * @param {string} baseURL
 * @param {{ name: string, email: string, password: string }} who
 * @returns {Promise<string>} an access token
 */
export async function signUpByApi(baseURL, { name, email, password }) {
  const signup = await fetch(`${baseURL}/api/v1/users/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, full_name: name }),
  })
  if (signup.status !== 201) throw new Error(`signup: HTTP ${signup.status} ${await signup.text()}`)
  const login = await fetch(`${baseURL}/api/v1/login/access-token`, {
    method: 'POST',
    body: new URLSearchParams({ username: email, password }),
  })
  if (!login.ok) throw new Error(`login: HTTP ${login.status} ${await login.text()}`)
  return (await login.json()).access_token
}

/** Runs in the bot's page: connects, authenticates, and installs `window.__bot`. */
function installClient(/** @type {{ token: string }} */ { token }) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/v1/socket`)
    /** @type {Map<number, { resolve: (data: any) => void, reject: (error: Error) => void }>} */
    const waiting = new Map()
    /** @type {any[]} */
    const events = []
    let nextId = 1
    socket.onopen = () => socket.send(JSON.stringify({ token }))
    socket.onclose = (event) => {
      reject(new Error(`closed ${event.code} before the handshake`))
      for (const entry of waiting.values()) entry.reject(new Error(`closed ${event.code}`))
      waiting.clear()
    }
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data)
      if (frame.state === 'initialised') {
        resolve(frame.data)
        return
      }
      const entry = frame.id === undefined ? undefined : waiting.get(frame.id)
      if (!entry) {
        events.push(frame)
        return
      }
      waiting.delete(frame.id)
      if (frame.state === 'error') entry.reject(new Error(`${frame.code}: ${frame.error}`))
      else entry.resolve(frame.data)
    }
    /** @param {string} state @param {object} data */
    const request = (state, data) =>
      new Promise((resolveRequest, rejectRequest) => {
        const id = nextId++
        waiting.set(id, { resolve: resolveRequest, reject: rejectRequest })
        socket.send(JSON.stringify({ state, data, id }))
      })
    Object.defineProperty(window, '__bot', {
      value: { request, events, close: () => socket.close(1000) },
    })
  })
}

export class Bot {
  /**
   * Signs up through the REST API and opens an authenticated socket.
   * @param {import('playwright-core').Browser} browser
   * @param {string} baseURL
   * @param {{ name: string, email: string, password?: string }} who
   */
  static async connect(browser, baseURL, who) {
    const password = who.password ?? 'correct horse battery staple'
    const token = await signUpByApi(baseURL, { ...who, password })
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${baseURL}/api/v1/health`)
    const initialised = await page.evaluate(installClient, { token })
    return new Bot(context, page, initialised.user)
  }

  /**
   * @param {import('playwright-core').BrowserContext} context
   * @param {import('playwright-core').Page} page
   * @param {{ id: number, email: string, full_name: string }} user
   */
  constructor(context, page, user) {
    this.context = context
    this.page = page
    this.user = user
  }

  /**
   * One request; resolves with the reply's data, rejects with "<code>: <message>".
   * @param {string} state @param {object} [data]
   */
  request(state, data = {}) {
    return this.page.evaluate(
      ([name, payload]) => /** @type {any} */ (window).__bot.request(name, payload),
      /** @type {const} */ ([state, data]),
    )
  }

  /**
   * Posts `texts` to a room one after the other, each once (a fixed `client_id` per text, so a
   * retry can never duplicate). A request refused as `rate_limited` was not executed; it is sent
   * again once the server's token bucket has refilled a little.
   * @param {number} room @param {string[]} texts
   */
  async post(room, texts) {
    return this.page.evaluate(
      async ([roomId, all, batch]) => {
        const bot = /** @type {any} */ (window).__bot
        const sent = []
        for (const [index, text] of all.entries()) {
          for (;;) {
            try {
              const data = { room: roomId, text, client_id: `${batch}-${index}` }
              sent.push((await bot.request('sendMessage', data)).message)
              break
            } catch (error) {
              if (!String(error).includes('rate_limited')) throw error
              await new Promise((resolve) => setTimeout(resolve, 200))
            }
          }
        }
        return sent
      },
      /** @type {const} */ ([room, texts, `bot-${randomUUID().slice(0, 8)}`]),
    )
  }

  /** Every message of a room, oldest first, paging back through `history`. @param {number} room */
  async allMessages(room) {
    /** @type {any[]} */
    let messages = []
    /** @type {number | undefined} */
    let before
    for (;;) {
      const page = await this.request('history', {
        room,
        limit: 100,
        ...(before ? { before } : {}),
      })
      messages = [...page.messages, ...messages]
      if (!page.has_more || page.messages.length === 0) return messages
      before = page.messages[0].seq
    }
  }

  async close() {
    await this.context.close().catch(() => undefined)
  }
}
