/**
 * What a person does in the app, through the data-testids listed in frontend/README.md, and
 * what they see, read back from the page. Every step waits on the condition it expects.
 */

/** @typedef {import('./browser.mjs').User} User */

/** @param {string} text */
function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Matches an element whose whole text is `text`. @param {string} text */
function exactly(text) {
  return new RegExp(`^${escapeRegExp(text)}$`)
}

/**
 * The message whose text is exactly `text`.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 * @param {'sent' | 'pending' | 'failed'} [status]
 */
export function messageItem(page, text, status) {
  const items = status
    ? page.locator(`[data-testid="message-item"][data-status="${status}"]`)
    : page.getByTestId('message-item')
  return items.filter({ has: page.getByTestId('message-text').filter({ hasText: exactly(text) }) })
}

/** @param {User} user @param {'connecting' | 'online' | 'reconnecting' | 'offline'} status */
export async function waitForBadge(user, status, timeout = 15_000) {
  await user.page
    .locator(`[data-testid="connection-badge"][data-status="${status}"]`)
    .waitFor({ timeout })
}

/** Signs up through the form; resolves once the chat is open and the socket online. */
export async function signUp(/** @type {User} */ user) {
  const { page } = user
  await page.goto('/signup')
  await page.getByTestId('signup-name').fill(user.name)
  await page.getByTestId('signup-email').fill(user.email)
  await page.getByTestId('signup-password').fill(user.password)
  await page.getByTestId('signup-submit').click()
  await page.waitForURL(/\/rooms/)
  await waitForBadge(user, 'online')
  rememberId(user)
}

/** The user's id, from the socket's `initialised` frame. @param {User} user */
function rememberId(user) {
  const initialised = user.appSockets
    .flatMap((socket) => socket.received)
    .find((frame) => frame?.state === 'initialised')
  if (!initialised) throw new Error(`${user.name}: no "initialised" frame on the socket`)
  user.id = initialised.data.user.id
}

/** The room open in the page, from its URL. */
export function currentRoomId(/** @type {User} */ user) {
  const match = /\/rooms\/(\d+)/.exec(user.page.url())
  return match ? Number(match[1]) : null
}

/** @typedef {{ id: number, name: string }} RoomRef */

/** Waits until `room` is open and joined. @param {User} user @param {RoomRef} room */
export async function waitForRoom(user, room) {
  await user.page.waitForURL(new RegExp(`/rooms/${room.id}$`))
  await user.page
    .getByTestId('room-title')
    .filter({ hasText: exactly(`#${room.name}`) })
    .waitFor()
  await user.page.getByTestId('composer-input').waitFor()
}

/**
 * Creates a room with the sidebar's form; resolves once it is open.
 * @param {User} user @param {string} name @param {string} [topic]
 */
export async function createRoom(user, name, topic) {
  const { page } = user
  await page.getByTestId('create-room-button').click()
  await page.getByTestId('create-room-name').fill(name)
  if (topic) await page.getByTestId('create-room-topic').fill(topic)
  await page.getByTestId('create-room-submit').click()
  // The title follows the route, so once it names the new room the URL holds its id.
  await page
    .getByTestId('room-title')
    .filter({ hasText: exactly(`#${name}`) })
    .waitFor()
  const room = { id: /** @type {number} */ (currentRoomId(user)), name }
  await page.locator(`[data-testid="room-item"][data-room-id="${room.id}"]`).waitFor()
  await waitForRoom(user, room)
  return room
}

/**
 * Joins a room from "More rooms" (its entry reads "#name Join"); resolves once it is open.
 * @param {User} user @param {string} name @returns {Promise<RoomRef>}
 */
export async function joinRoom(user, name) {
  const escaped = escapeRegExp(name)
  const item = user.page
    .getByTestId('other-room-item')
    .filter({ hasText: new RegExp(`^\\s*#\\s*${escaped}\\s*Join\\s*$`) })
  const room = { id: Number(await item.getAttribute('data-room-id')), name }
  await item.getByTestId('join-room-button').click()
  await waitForRoom(user, room)
  return room
}

/** Opens a joined room from the sidebar. @param {User} user @param {RoomRef} room */
export async function openRoom(user, room) {
  await user.page.locator(`[data-testid="room-item"][data-room-id="${room.id}"]`).click()
  await waitForRoom(user, room)
}

/**
 * Puts `text` in the composer and presses Enter; resolves once the server confirmed it
 * (`data-status="sent"`) unless `confirm` is false.
 * @param {User} user @param {string} text @param {{ confirm?: boolean }} [options]
 */
export async function sendMessage(user, text, { confirm = true } = {}) {
  const input = user.page.getByTestId('composer-input')
  await input.fill(text)
  await input.press('Enter')
  if (confirm) await messageItem(user.page, text, 'sent').waitFor()
}

/**
 * @typedef {{ id: number | null, clientId: string | null, status: string, text: string }} ShownMessage
 */

/** The message list as shown, top to bottom. @returns {Promise<ShownMessage[]>} */
export async function shownMessages(/** @type {User} */ user) {
  return user.page.getByTestId('message-list').evaluate((list) =>
    [...list.querySelectorAll('[data-testid="message-item"]')].map((item) => {
      const element = /** @type {HTMLElement} */ (item)
      return {
        id: element.dataset.messageId ? Number(element.dataset.messageId) : null,
        clientId: element.dataset.clientId ?? null,
        status: element.dataset.status ?? '',
        text: element.querySelector('[data-testid="message-text"]')?.textContent ?? '',
      }
    }),
  )
}

/** The ids of the users in the presence list, in the order shown. */
export async function presentIds(/** @type {User} */ user) {
  return user.page
    .getByTestId('presence-item')
    .evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-user-id'))))
}

/** The unread badge of a joined room in the sidebar. @param {User} user @param {number} roomId */
export function unreadBadge(user, roomId) {
  return user.page
    .locator(`[data-testid="room-item"][data-room-id="${roomId}"]`)
    .getByTestId('unread-badge')
}

/**
 * `author` types `text` into the composer key by key (without sending) until `reader`'s typing
 * indicator names them. A user's `typing` goes out at most once per 2 s (client and server
 * both throttle), so a person who keeps typing is seen within about 4 s: the text must be long
 * enough to keep typing that long. Throws if it runs out first.
 * @param {User} author @param {User} reader @param {string} text
 */
export async function typeUntilSeen(author, reader, text, { delay = 50 } = {}) {
  const input = author.page.getByTestId('composer-input')
  const indicator = reader.page
    .getByTestId('typing-indicator')
    .filter({ hasText: `${author.name} is typing` })
  for (const key of text) {
    await input.press(key === ' ' ? 'Space' : key, { delay }) // held `delay` ms: typing speed
    if ((await indicator.count()) > 0) return
  }
  await indicator.waitFor({ timeout: 2_000 })
}

/** The typing indicator's text ('' when nobody types). */
export async function typingText(/** @type {User} */ user) {
  return ((await user.page.getByTestId('typing-indicator').textContent()) ?? '').trim()
}
