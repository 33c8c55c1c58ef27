/**
 * Scenario 5: access tokens that expire mid-session are refreshed without the user noticing.
 * The backend issues 15-second access tokens; the app refreshes them halfway through their
 * life (src/stores/auth.ts: refreshDelay) and hands each new one to the live socket (`reauth`).
 * After more than two lifetimes the socket is still the first one, the badge never left
 * "online", nothing was refused, and messages still go both ways.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { createRoom, joinRoom, messageItem, sendMessage, signUp } from '../lib/chat.mjs'
import { eventually } from '../lib/poll.mjs'
import { useStack } from '../lib/stack.mjs'

const LIFETIME_S = 15
const stack = useStack('token-refresh', {
  env: { ACCESS_TOKEN_EXPIRE_MINUTES: String(LIFETIME_S / 60) },
})

/** The `exp` claim of a JWT, in seconds. @param {string} token */
function expiry(token) {
  const payload = token.split('.')[1] ?? ''
  return JSON.parse(Buffer.from(payload, 'base64url').toString()).exp
}

test('expired access tokens are refreshed silently: same socket, always online, sending works', async (t) => {
  const alice = await stack.user('Alice Martin')
  const bob = await stack.user('Bob Okafor')
  await signUp(alice)
  const room = await createRoom(alice, 'long-session')
  await signUp(bob)
  await joinRoom(bob, room.name)
  await sendMessage(alice, 'Before any token expired')
  await messageItem(bob.page, 'Before any token expired', 'sent').waitFor()

  // Wait until the token each socket was opened with is more than a lifetime past its expiry.
  const firstTokens = [alice, bob].map((user) => {
    const handshake = user.appSockets[0]?.sent.find((frame) => typeof frame?.token === 'string')
    assert.ok(handshake, `${user.name}: the handshake frame was not seen`)
    return handshake.token
  })
  const deadline = Math.max(...firstTokens.map(expiry)) + LIFETIME_S
  await eventually(
    () => assert.ok(Date.now() / 1000 > deadline, 'the first tokens expired a lifetime ago'),
    { timeout: 4 * LIFETIME_S * 1000, interval: 250 },
  )

  for (const user of [alice, bob]) {
    // One socket, still open: no reconnect happened.
    assert.equal(user.appSockets.length, 1, `${user.name} opened ${user.appSockets.length} sockets`)
    const [socket] = user.appSockets
    assert.equal(socket.closed, false)
    // The badge went online once and stayed there.
    const history = await user.badgeHistory()
    assert.deepEqual(history.slice(history.indexOf('online')), ['online'], `badge: ${history}`)
    // Fresh tokens reached the live socket, each accepted; the server refused nothing.
    const reauths = socket.sent.filter((frame) => frame?.state === 'reauth')
    const accepted = socket.received.filter((frame) => frame?.state === 'reauth')
    const errors = socket.received.filter((frame) => frame?.state === 'error')
    assert.deepEqual(errors, [])
    assert.ok(reauths.length >= 3, `${user.name} sent ${reauths.length} reauth`)
    assert.equal(accepted.length, reauths.length)
    assert.equal(new Set(reauths.map((frame) => frame.data.token)).size, reauths.length)
    // (The page's first refresh, before signing up, is a 401: there was no session to restore.)
    const signedIn = user.api.findIndex((line) => line.endsWith('/api/v1/login/access-token'))
    const refreshes = user.api
      .slice(signedIn)
      .filter((line) => line.endsWith('/api/v1/login/refresh-token'))
    assert.ok(refreshes.length >= reauths.length, refreshes.join(', '))
    assert.ok(
      refreshes.every((line) => line.startsWith('200 ')),
      refreshes.join(', '),
    )
    t.diagnostic(`${user.name}: ${reauths.length} silent refreshes on one socket`)
    // Nothing was shown to the user: no toast, still in the room.
    assert.equal(await user.page.getByTestId('toast').count(), 0)
    assert.match(user.page.url(), new RegExp(`/rooms/${room.id}$`))
  }

  // Both ways, long after the first tokens died.
  await sendMessage(alice, 'Still here, an hour later in token years')
  await messageItem(bob.page, 'Still here, an hour later in token years', 'sent').waitFor()
  await sendMessage(bob, 'Same socket on my side')
  await messageItem(alice.page, 'Same socket on my side', 'sent').waitFor()
  for (const user of [alice, bob]) assert.equal(user.appSockets.length, 1)
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], [])
})
