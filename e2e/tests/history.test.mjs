/** Scenario 2: after a reload the history is there, and scrolling back loads older messages. */
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  createRoom,
  messageItem,
  sendMessage,
  shownMessages,
  signUp,
  waitForBadge,
  waitForRoom,
} from '../lib/chat.mjs'
import { eventually } from '../lib/poll.mjs'
import { useStack } from '../lib/stack.mjs'

const stack = useStack('history')

/** What `joinRoom` and each `history` page carry (docs/protocol.md). */
const PAGE = 50
const SEEDED = 110

test('after a reload the history is there, and scrolling back loads older messages in order', async () => {
  const alice = await stack.user('Alice Martin')
  await signUp(alice)
  const room = await createRoom(alice, 'history')

  // Another member posts more than two pages of messages over the protocol.
  const bot = await stack.bot('Seed Bot')
  await bot.request('joinRoom', { room: room.id })
  const texts = Array.from({ length: SEEDED }, (_, index) => `Seeded message ${index + 1}`)
  await bot.post(room.id, texts)
  await messageItem(alice.page, texts[SEEDED - 1], 'sent').waitFor()
  await sendMessage(alice, 'And one of mine')
  const all = [...texts, 'And one of mine']
  const server = await bot.allMessages(room.id)
  assert.deepEqual(
    server.map((message) => message.text),
    all,
  )
  assert.deepEqual(
    server.map((message) => message.seq),
    all.map((_, index) => index + 1),
  )

  // Reload: a new page, restored from the refresh cookie; the room opens with the latest page.
  await alice.page.reload()
  await waitForRoom(alice, room)
  await waitForBadge(alice, 'online')
  const latest = all.slice(-PAGE)
  await eventually(async () =>
    assert.deepEqual(
      (await shownMessages(alice)).map((message) => message.text),
      latest,
    ),
  )
  const loadOlder = alice.page.getByTestId('load-older')
  await loadOlder.waitFor()
  await alice.screenshot(`${stack.label}-after-reload`)

  // Scrolled to the top, the page before comes in above, and the reader keeps their place:
  // the message that was first is still in view.
  const list = alice.page.getByTestId('message-list')
  await list.evaluate((element) => {
    element.scrollTop = 0
  })
  await eventually(async () =>
    assert.deepEqual(
      (await shownMessages(alice)).map((message) => message.text),
      all.slice(-2 * PAGE),
    ),
  )
  const firstBefore = messageItem(alice.page, latest[0])
  await eventually(async () => {
    const view = /** @type {{ y: number, height: number }} */ (await list.boundingBox())
    const item = /** @type {{ y: number, height: number }} */ (await firstBefore.boundingBox())
    assert.ok(
      item.y >= view.y && item.y + item.height <= view.y + view.height,
      `"${latest[0]}" at y=${item.y} is outside the list (y=${view.y}, height=${view.height})`,
    )
  })
  await alice.screenshot(`${stack.label}-older-page`)

  // The wheel, like a person, until the start of the room: everything, once, in seq order.
  const box = /** @type {{ x: number, y: number, width: number, height: number }} */ (
    await list.boundingBox()
  )
  await alice.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await eventually(
    async () => {
      await alice.page.mouse.wheel(0, -2000)
      assert.equal(await loadOlder.count(), 0, 'the "Load older messages" button is still there')
    },
    { timeout: 20_000, interval: 100 },
  )
  await alice.page.getByText(`This is the start of #${room.name}`).waitFor()
  const shown = await shownMessages(alice)
  assert.deepEqual(
    shown.map((message) => message.id),
    server.map((message) => message.id),
  )
  assert.ok(shown.every((message) => message.status === 'sent'))
  await alice.screenshot(`${stack.label}-start-of-room`)
  assert.deepEqual(alice.pageErrors, [])
})
