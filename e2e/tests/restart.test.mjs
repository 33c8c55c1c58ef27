/**
 * Scenario 3: the backend crashes (SIGKILL) and comes back on the same port and data while
 * both users keep typing and sending. The badge shows reconnecting, then online; afterwards
 * every message either of them sent is shown exactly once, in seq order, on both sides.
 *
 * The hardest case is made certain rather than left to timing: the crash comes right after the
 * server stored one of Alice's messages but before its reply reached her (her socket passes
 * through a Playwright WebSocket route that loses exactly that reply), and after a later
 * message of Bob's reached her. Stored, broadcast to Bob, yet unconfirmed on her screen and
 * behind her resume point: it must still end up shown once, in its place.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  createRoom,
  joinRoom,
  messageItem,
  shownMessages,
  signUp,
  waitForBadge,
} from '../lib/chat.mjs'
import { eventually } from '../lib/poll.mjs'
import { useStack } from '../lib/stack.mjs'

const stack = useStack('restart')

/**
 * Types numbered messages key by key and sends each with Enter, like a person who keeps
 * chatting whatever the badge says, until stopped. Each is on screen (sending, sent or
 * failed) before the next one is typed.
 * @param {import('../lib/browser.mjs').User} user
 */
function keepTyping(user) {
  /** @type {string[]} */
  const typed = []
  let stopped = false
  const input = user.page.getByTestId('composer-input')
  const done = (async () => {
    while (!stopped) {
      const text = `${user.name.split(' ')[0]} says ${typed.length + 1}`
      await input.pressSequentially(text, { delay: 20 })
      await input.press('Enter')
      typed.push(text)
      await messageItem(user.page, text).waitFor()
    }
  })()
  return {
    typed,
    /** Resolves once `count` more messages have been typed from now on. @param {number} count */
    async more(count, timeout = 20_000) {
      const target = typed.length + count
      await eventually(() => assert.ok(typed.length >= target, `${user.name} typed ${target}`), {
        timeout,
      })
    },
    async stop() {
      stopped = true
      await done
    },
  }
}

test('a backend crash and restart while both type: reconnecting, online, every message once', async (t) => {
  const alice = await stack.user('Alice Martin')
  const bob = await stack.user('Bob Okafor')

  /** @type {{ armed: boolean, message: any }} */
  const lost = { armed: false, message: null }
  await alice.context.routeWebSocket(/\/api\/v1\/socket$/, (route) => {
    const server = route.connectToServer()
    route.onMessage((frame) => server.send(frame))
    server.onMessage((frame) => {
      if (lost.armed) {
        const parsed = JSON.parse(String(frame))
        if (parsed.state === 'sendMessage' && parsed.id !== undefined) {
          lost.armed = false
          lost.message = parsed.data.message
          return // the reply never reaches the page
        }
      }
      route.send(frame)
    })
  })

  await signUp(alice)
  const room = await createRoom(alice, 'resilience')
  await signUp(bob)
  await joinRoom(bob, room.name)

  const typists = [keepTyping(alice), keepTyping(bob)]
  await Promise.all(typists.map((typist) => typist.more(3)))

  // The crash, just after one of Alice's messages was stored and its reply lost: both sockets
  // drop, both badges say so, and both people keep typing.
  // Alice also gets one of Bob's later messages first, so her next join's `since` is past the
  // lost one: only its client_id can bring it back.
  lost.armed = true
  await eventually(() => assert.ok(lost.message, 'a reply to Alice was lost'))
  await eventually(() =>
    assert.ok(
      alice.appSockets
        .at(-1)
        ?.received.some((frame) => frame?.state === 'message' && frame.data.seq > lost.message.seq),
      'Alice received a later message from Bob',
    ),
  )
  const killedAt = Date.now()
  await stack.backend.kill()
  await Promise.all([alice, bob].map((user) => waitForBadge(user, 'reconnecting', 10_000)))
  await Promise.all(typists.map((typist) => typist.more(3)))
  await alice.screenshot(`${stack.label}-alice-offline`)

  // Back on the same port and data: both reconnect by themselves (backoff, no reload).
  await stack.backend.restart()
  const restartedAt = Date.now()
  await Promise.all([alice, bob].map((user) => waitForBadge(user, 'online', 45_000)))
  t.diagnostic(
    `server away ${restartedAt - killedAt} ms; both online again ${Date.now() - restartedAt} ms later`,
  )
  await Promise.all(typists.map((typist) => typist.more(3)))
  await Promise.all(typists.map((typist) => typist.stop()))
  const lostItem = alice.page.locator(
    `[data-testid="message-item"][data-client-id="${lost.message.client_id}"]`,
  )
  t.diagnostic(
    `Alice's message whose reply was lost (stored as seq ${lost.message.seq}), once back ` +
      `online: ${await lostItem.getAttribute('data-status')} on her screen`,
  )
  await alice.screenshot(`${stack.label}-alice-back-online`)

  // What could not be sent while the server was away stayed pending and went out again by
  // itself after the resume, with the same client_id: no one has to press Retry, and the
  // message whose reply was lost is the server's stored copy, not a second one.
  for (const user of [alice, bob]) {
    await eventually(
      async () => {
        const unsent = (await shownMessages(user)).filter((message) => message.status !== 'sent')
        assert.deepEqual(unsent, [], `${user.name} still has unsent messages`)
      },
      { timeout: 30_000, interval: 100 },
    )
    assert.equal(await user.page.getByTestId('message-retry').count(), 0, `${user.name} was asked to retry`)
  }

  // The server's record: each typed message exactly once.
  const observer = await stack.bot('Observer')
  await observer.request('joinRoom', { room: room.id })
  const server = await observer.allMessages(room.id)
  const typed = typists.flatMap((typist) => typist.typed)
  t.diagnostic(`${typed.length} messages typed, ${server.length} stored`)
  assert.deepEqual(
    server.filter((message) => message.client_id === lost.message.client_id),
    [lost.message],
  )
  assert.deepEqual(server.map((message) => message.text).sort(), [...typed].sort())
  assert.deepEqual(
    server.map((message) => message.seq),
    server.map((_, index) => index + 1),
  )

  // Both pages show exactly that, in seq order, once the last events are in.
  for (const user of [alice, bob]) {
    await eventually(async () =>
      assert.deepEqual(
        (await shownMessages(user)).map((message) => [message.id, message.text]),
        server.map((message) => [message.id, message.text]),
      ),
    )
    const shown = await shownMessages(user)
    assert.equal(shown.filter((message) => message.id === lost.message.id).length, 1)
    const history = await user.badgeHistory()
    const drop = history.indexOf('reconnecting')
    assert.ok(drop > 0 && history[drop - 1] === 'online', `badge history: ${history}`)
    assert.equal(history.at(-1), 'online', `badge history: ${history}`)
    const sockets = user.appSockets
    assert.ok(sockets.length >= 2, `${user.name} opened ${sockets.length} sockets`)
    assert.ok(sockets.at(-1)?.closed === false && sockets.slice(0, -1).every((s) => s.closed))
    await user.screenshot(`${stack.label}-${user.name.split(' ')[0].toLowerCase()}-after`)
  }
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], [])
})
