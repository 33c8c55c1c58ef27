/**
 * Scenario 1, compact, against the production stack: nginx (the repository's config) in front
 * of backend/scripts/start.sh with two workers, PostgreSQL and Redis. The two people's sockets
 * are made to land on different workers, so every event between them crosses Redis.
 * Skipped, with the reason, without TEST_DATABASE_URL, TEST_REDIS_URL or nginx.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { launchBrowser, User } from '../lib/browser.mjs'
import {
  createRoom,
  joinRoom,
  messageItem,
  presentIds,
  sendMessage,
  signUp,
  typeUntilSeen,
  waitForBadge,
  waitForRoom,
} from '../lib/chat.mjs'
import { eventually } from '../lib/poll.mjs'
import { missing, ProductionStack } from '../lib/production.mjs'

/** The server's id for the user's live socket, from its `initialised` frame. */
function sessionOf(/** @type {User} */ user) {
  const socket = user.appSockets.at(-1)
  const frame = socket?.received.find((received) => received?.state === 'initialised')
  return frame?.data.session ?? null
}

test('two users chat through nginx, on two workers fanned out over Redis, PostgreSQL behind', async (t) => {
  const reason = missing()
  if (reason) {
    t.skip(reason)
    return
  }
  const stack = await ProductionStack.start()
  /** @type {import('playwright-core').Browser | null} */
  let browser = null
  /** @type {User[]} */
  const users = []
  try {
    const launched = await launchBrowser()
    browser = launched
    const health = await (await fetch(`${stack.url}/api/v1/health`)).json()
    assert.deepEqual(health, { status: 'ok', database: 'ok', broadcast: 'ok' })

    const suffix = Date.now().toString(36)
    const open = async (/** @type {string} */ name) => {
      const email = `${name.split(' ')[0].toLowerCase()}-${suffix}@example.com`
      const user = await User.open(launched, stack.url, { name, email })
      users.push(user)
      return user
    }
    const alice = await open('Alice Martin')
    const bob = await open('Bob Okafor')
    await signUp(alice)
    const room = await createRoom(alice, 'production')
    await signUp(bob)
    await joinRoom(bob, room.name)

    // Bob reconnects (a reload: the session comes back from the refresh cookie) until his
    // socket is served by the other worker than Alice's.
    const workerOf = (/** @type {User} */ user) => {
      const session = sessionOf(user)
      return session ? stack.sessionPids().get(session) : undefined
    }
    const aliceWorker = await eventually(() => {
      const pid = workerOf(alice)
      assert.ok(pid, "Alice's session is in the log")
      return pid
    })
    await eventually(
      async () => {
        const pid = await eventually(() => {
          const found = workerOf(bob)
          assert.ok(found, "Bob's session is in the log")
          return found
        })
        if (pid === aliceWorker) {
          await bob.page.reload()
          await waitForRoom(bob, room)
          await waitForBadge(bob, 'online')
        }
        assert.notEqual(pid, aliceWorker, 'Bob is on the other worker')
      },
      { timeout: 60_000, interval: 10 },
    )
    t.diagnostic(`Alice on worker ${aliceWorker}, Bob on worker ${workerOf(bob)}`)

    // Presence, typing and messages, both ways, across the workers.
    for (const viewer of [alice, bob]) {
      await eventually(async () =>
        assert.deepEqual(new Set(await presentIds(viewer)), new Set([alice.id, bob.id])),
      )
    }
    await typeUntilSeen(bob, alice, 'Hello from the other worker, typing away for a while')
    await bob.page.getByTestId('composer-input').fill('')
    await sendMessage(alice, 'Hello from worker one')
    await messageItem(bob.page, 'Hello from worker one', 'sent').waitFor()
    await sendMessage(bob, 'And back from worker two')
    await messageItem(alice.page, 'And back from worker two', 'sent').waitFor()

    // A reload through nginx: the Secure refresh cookie (production) brings the session back
    // (Chromium treats http://127.0.0.1 as a secure context) and the history with it.
    await alice.page.reload()
    await waitForRoom(alice, room)
    await waitForBadge(alice, 'online')
    await messageItem(alice.page, 'Hello from worker one', 'sent').waitFor()
    await messageItem(alice.page, 'And back from worker two', 'sent').waitFor()
    await alice.screenshot('production-alice')
    await bob.screenshot('production-bob')
    assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], [])
  } finally {
    for (const user of users) {
      user.saveConsole(`production-${user.name.split(' ')[0].toLowerCase()}`)
      await user.close()
    }
    await browser?.close()
    await stack.stop()
  }
})
