/**
 * Scenario 1: two people chat. Scenario 4: HTML in a message is text.
 * Against the product as `make run` serves it (one process, SQLite, the built app).
 */
import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'

import {
  createRoom,
  joinRoom,
  messageItem,
  openRoom,
  presentIds,
  sendMessage,
  shownMessages,
  signUp,
  typeUntilSeen,
  typingText,
  unreadBadge,
  waitForBadge,
  waitForRoom,
} from '../lib/chat.mjs'
import { artifact, REPO_DIR } from '../lib/paths.mjs'
import { eventually } from '../lib/poll.mjs'
import { useStack } from '../lib/stack.mjs'

const stack = useStack('chat')

const POLL = {
  question: 'Ship the new onboarding on Thursday?',
  options: ['Yes, ship it', 'Wait for one more review', 'Push to next week'],
}

const CONVERSATION = /** @type {const} */ ([
  ['alice', 'Morning! The new onboarding flow is live on staging.'],
  ['bob', 'Nice, running through it now.'],
  ['bob', 'Sign-up to first message took me under 30 seconds. Love the empty state.'],
  ['alice', 'That was the goal. Anything feel off?'],
  ['bob', 'The room list jumps once on a slow connection. Filing it now.'],
  ['alice', 'Thanks! If QA is happy we ship on Thursday.'],
  ['bob', 'QA signed off ten minutes ago. Release notes are in the doc.'],
  ['alice', 'Perfect. I will post the announcement after the stand-up.'],
])

test('two users sign up, share rooms, chat, see each other type and come and go; unread counts follow', async () => {
  const alice = await stack.user('Alice Martin', { email: 'alice@example.com' })
  const bob = await stack.user('Bob Okafor', { email: 'bob@example.com' })

  // Alice signs up and opens three rooms; the app sends her to each new one.
  await signUp(alice)
  const general = await createRoom(alice, 'general', 'Company-wide news and chatter')
  const design = await createRoom(alice, 'design', 'Mockups, reviews and pixel pushing')
  const random = await createRoom(alice, 'random', 'Anything goes')
  await openRoom(alice, general)

  // Bob signs up: the rooms are under "More rooms"; he joins them all and opens #general.
  await signUp(bob)
  for (const room of [general, design, random]) {
    assert.equal((await joinRoom(bob, room.name)).id, room.id)
  }
  await openRoom(bob, general)
  // Bob creates a room of his own that Alice has not joined.
  const ops = await createRoom(bob, 'ops-oncall', 'Pager rotation and incidents')
  await openRoom(bob, general)

  // Presence: each sees both people online in #general, and the sidebar counts two.
  for (const viewer of [alice, bob]) {
    await eventually(async () =>
      assert.deepEqual(new Set(await presentIds(viewer)), new Set([alice.id, bob.id])),
    )
    await viewer.page
      .locator(`[data-testid="room-item"][data-room-id="${general.id}"]`)
      .getByTestId('room-online-count')
      .filter({ hasText: /^2$/ })
      .waitFor()
  }

  // The conversation. The first time each of them writes, they type key by key and the other
  // side sees "… is typing" before the message lands, and no longer once it has.
  const people = { alice, bob }
  const typedBefore = new Set()
  for (const [who, text] of CONVERSATION) {
    const author = people[who]
    const reader = author === alice ? bob : alice
    if (!typedBefore.has(who)) {
      typedBefore.add(who)
      await typeUntilSeen(author, reader, text)
      await author.page.getByTestId('composer-input').fill(text)
      await author.page.getByTestId('composer-input').press('Enter')
      await messageItem(author.page, text, 'sent').waitFor()
    } else {
      await sendMessage(author, text)
    }
    await messageItem(reader.page, text, 'sent').waitFor()
    await eventually(async () => assert.equal(await typingText(reader), ''))
  }
  // Both show the same messages, in the same order, all confirmed.
  const expected = CONVERSATION.map(([, text]) => text)
  for (const viewer of [alice, bob]) {
    const shown = await shownMessages(viewer)
    assert.deepEqual(
      shown.map((message) => message.text),
      expected,
    )
    assert.ok(shown.every((message) => message.status === 'sent' && message.id !== null))
  }
  assert.deepEqual(
    (await shownMessages(alice)).map((message) => message.id),
    (await shownMessages(bob)).map((message) => message.id),
  )

  // Alice asks the room a poll; both vote; each sees the other's vote counted live.
  await alice.page.getByTestId('poll-create').click()
  await alice.page.getByTestId('poll-question').fill(POLL.question)
  await alice.page.getByTestId('poll-add-option').click()
  const optionInputs = alice.page.getByTestId('poll-option-input')
  for (const [index, option] of POLL.options.entries()) await optionInputs.nth(index).fill(option)
  await alice.page.getByTestId('poll-submit').click()
  for (const [index, voter] of [alice, bob].entries()) {
    await voter.page.getByTestId('poll').filter({ hasText: POLL.question }).waitFor()
    await voter.page.locator('[data-testid="poll-option"][data-option-index="0"]').click()
    for (const viewer of [alice, bob]) {
      await viewer.page
        .getByTestId('poll-total')
        .filter({ hasText: `${index + 1} vote` })
        .waitFor()
    }
  }
  for (const viewer of [alice, bob]) {
    assert.deepEqual(await viewer.page.getByTestId('poll-count').allTextContents(), ['2', '0', '0'])
  }

  // Alice reloads: the session comes back from the refresh cookie, the history and the poll
  // with it, and Bob's new room is listed for her to join.
  await alice.page.reload()
  await waitForRoom(alice, general)
  await waitForBadge(alice, 'online')
  await eventually(async () =>
    assert.deepEqual(
      (await shownMessages(alice)).map((message) => message.text),
      expected,
    ),
  )
  await alice.page.locator(`[data-testid="other-room-item"][data-room-id="${ops.id}"]`).waitFor()
  await alice.page.getByTestId('poll-total').filter({ hasText: '2 votes' }).waitFor()

  // Unread counts: Bob posts in #design and #random while Alice reads #general; her sidebar
  // counts them one by one; his own sidebar counts none of his own messages.
  await openRoom(bob, design)
  await sendMessage(bob, 'Pushed the new avatar set to the design board.')
  await unreadBadge(alice, design.id).filter({ hasText: /^1$/ }).waitFor()
  await sendMessage(bob, 'Two variants for the empty state: which one?')
  await unreadBadge(alice, design.id).filter({ hasText: /^2$/ }).waitFor()
  await openRoom(bob, random)
  await sendMessage(bob, 'Who is up for lunch at the new ramen place?')
  await unreadBadge(alice, random.id).filter({ hasText: /^1$/ }).waitFor()
  assert.equal(await unreadBadge(alice, general.id).count(), 0)
  assert.equal(await bob.page.getByTestId('unread-badge').count(), 0)

  // Bob goes back to #general and starts typing: the moment for the README's screenshot.
  await openRoom(bob, general)
  await typeUntilSeen(
    bob,
    alice,
    'On my way to the stand-up, grabbing coffee first. Anyone want one?',
  )
  await alice.page.getByTestId('composer-input').blur()
  // Cosmetic, for the README: the window is made shorter by the sliver of a message cut at the
  // top of the list, so that the picture starts on a whole message.
  const list = alice.page.getByTestId('message-list')
  const toBottom = () =>
    list.evaluate((element) => {
      element.scrollTop = element.scrollHeight
    })
  await toBottom()
  const sliver = await list.evaluate((element) => {
    const top = element.getBoundingClientRect().top
    for (const item of element.querySelectorAll('[data-testid="message-item"]')) {
      const box = item.getBoundingClientRect()
      if (box.bottom > top) return box.top < top ? Math.ceil(box.bottom - top) : 0
    }
    return 0
  })
  await alice.page.setViewportSize({ width: 1280, height: 800 - Math.min(sliver, 60) })
  await toBottom()
  await alice.screenshot('chat-desktop')
  if (process.env.E2E_UPDATE_SCREENSHOT) {
    copyFileSync(artifact('chat-desktop.png'), path.join(REPO_DIR, 'docs', 'screenshot.png'))
  }
  await alice.page.setViewportSize({ width: 1280, height: 800 })
  await bob.page.getByTestId('composer-input').fill('')

  // Alice opens #design: its badge goes, Bob's two messages are there, #random still counts 1,
  // and after a reload (the server's read markers) it is still so.
  await openRoom(alice, design)
  await messageItem(alice.page, 'Two variants for the empty state: which one?', 'sent').waitFor()
  await unreadBadge(alice, design.id).waitFor({ state: 'detached' })
  await unreadBadge(alice, random.id).filter({ hasText: /^1$/ }).waitFor()
  await eventually(() =>
    assert.ok(
      alice.appSockets
        .at(-1)
        ?.received.some(
          (frame) =>
            frame.state === 'markRead' && frame.data.room === design.id && frame.data.unread === 0,
        ),
      'the server confirmed #design read',
    ),
  )
  await alice.page.reload()
  await waitForRoom(alice, design)
  await unreadBadge(alice, random.id).filter({ hasText: /^1$/ }).waitFor()
  assert.equal(await unreadBadge(alice, design.id).count(), 0)

  // Bob closes his tab: Alice sees him go offline in the room she is in, and in the sidebar.
  await bob.page.close()
  await eventually(async () => assert.deepEqual(await presentIds(alice), [alice.id]))
  await alice.page
    .locator(`[data-testid="room-item"][data-room-id="${general.id}"]`)
    .getByTestId('room-online-count')
    .filter({ hasText: /^1$/ })
    .waitFor()

  assert.deepEqual(alice.pageErrors, [])
  assert.deepEqual(alice.dialogs, [])
})

test('HTML in a message is shown as text, never rendered or run', async () => {
  const alice = await stack.user('Alice Martin')
  const bob = await stack.user('Bob Okafor')
  await signUp(alice)
  const room = await createRoom(alice, 'html-is-text')
  await signUp(bob)
  await joinRoom(bob, room.name)

  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(2)</script><b>bold?</b>',
    '<a href="javascript:alert(3)">click me</a> & &amp; &lt;',
  ]
  for (const text of payloads) await sendMessage(bob, text)

  /** Each payload is there as its exact text, and nothing in the list is an element of it. */
  async function assertShownAsText(/** @type {typeof alice} */ viewer) {
    for (const text of payloads) await messageItem(viewer.page, text, 'sent').waitFor()
    const list = viewer.page.getByTestId('message-list')
    assert.equal(await list.locator('img, script, b, a').count(), 0)
    assert.deepEqual(
      (await shownMessages(viewer)).map((message) => message.text),
      payloads,
    )
  }
  // To the sender, to the reader live, and to the reader from history after a reload.
  await assertShownAsText(bob)
  await assertShownAsText(alice)
  await alice.page.reload()
  await waitForRoom(alice, room)
  await assertShownAsText(alice)
  assert.deepEqual([...alice.dialogs, ...bob.dialogs], [])
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], [])
})
