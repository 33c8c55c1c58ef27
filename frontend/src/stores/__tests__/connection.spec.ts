import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { FakeWebSocket } from '@/api/__tests__/fakeWebSocket'
import { Backoff } from '@/api/backoff'
import { SocketRequestError } from '@/api/request'
import { createHandlers } from '@/features'

import { useAuthStore } from '../auth'
import { useConnectionStore } from '../connection'
import { useToastsStore } from '../toasts'

const flush = () => vi.advanceTimersByTimeAsync(0)

function signedIn() {
  const auth = useAuthStore()
  auth.accessToken = 'access-1'
  auth.expiresAt = Date.now() + 900_000
  auth.user = { id: 1, email: 'ada@example.com', full_name: 'Ada' }
  return auth
}

async function openAndHandshake() {
  const connection = useConnectionStore()
  connection.open(createHandlers(), { backoff: new Backoff({ random: () => 0.5 }) })
  await flush()
  const ws = FakeWebSocket.last()
  ws.accept()
  await flush()
  ws.receive({
    state: 'initialised',
    data: { user: { id: 1, email: 'ada@example.com', full_name: 'Ada' }, session: 'conn-7' },
  })
  await flush()
  return { connection, ws }
}

describe('connection store', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    setActivePinia(createPinia())
    FakeWebSocket.reset()
    vi.stubGlobal('WebSocket', FakeWebSocket)
  })
  afterEach(() => {
    useConnectionStore().close()
    vi.useRealTimers()
  })

  it('opens the socket with the access token and goes online', async () => {
    signedIn()
    const { connection, ws } = await openAndHandshake()
    expect(ws.url).toBe(`ws://${window.location.host}/api/v1/socket`)
    expect(ws.frames[0]).toEqual({ token: 'access-1' })
    expect(connection.status).toBe('online')
    expect(connection.session).toBe('conn-7')
    // "initialised" resumed the chat: the rooms were asked for.
    expect(ws.frames[1]).toMatchObject({ state: 'listRooms', data: {} })
  })

  it('sends reauth on the live socket whenever the token is refreshed', async () => {
    const auth = signedIn()
    const { ws } = await openAndHandshake()
    auth.accessToken = 'access-2'
    expect(ws.frames.at(-1)).toMatchObject({ state: 'reauth', data: { token: 'access-2' } })
  })

  it('request() resolves with the reply that carries its id, over the live socket', async () => {
    signedIn()
    const { connection, ws } = await openAndHandshake()
    const pending = connection.request('createPoll', {
      room: 3,
      question: 'Lunch?',
      options: ['Pizza', 'Soup'],
    })
    await flush()
    const sent = ws.frames.at(-1)
    expect(sent).toMatchObject({ state: 'createPoll', data: { room: 3, question: 'Lunch?' } })
    const poll = {
      id: 1,
      room: 3,
      question: 'Lunch?',
      options: ['Pizza', 'Soup'],
      counts: [0, 0],
      total: 0,
      created_by: { id: 1, full_name: 'Ada' },
      created_at: '2024-05-01T10:00:00Z',
    }
    ws.receive({ state: 'createPoll', data: { poll, my_vote: null }, id: sent?.id })
    await expect(pending).resolves.toEqual({ poll, my_vote: null })
  })

  it('request() rejects with a SocketRequestError for an error frame with its id', async () => {
    signedIn()
    const { connection, ws } = await openAndHandshake()
    const pending = connection.request('pollVote', { poll: 9, option: 0 })
    const outcome = pending.catch((caught: unknown) => caught)
    await flush()
    ws.receive({
      state: 'error',
      error: 'No such poll.',
      code: 'not_found',
      request: 'pollVote',
      id: ws.frames.at(-1)?.id,
    })
    const error = await outcome
    expect(error).toBeInstanceOf(SocketRequestError)
    expect(error).toMatchObject({
      code: 'not_found',
      message: 'No such poll.',
      request: 'pollVote',
    })
    // The error handler of the table saw it too (frames reach the table asynchronously).
    await flush()
    expect(useToastsStore().toasts).toEqual([expect.objectContaining({ message: 'No such poll.' })])
  })

  it('close() goes offline and does not come back', async () => {
    signedIn()
    const { connection, ws } = await openAndHandshake()
    connection.close()
    expect(connection.status).toBe('offline')
    expect(connection.session).toBeNull()
    expect(ws.closedWith?.code).toBe(1000)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    await expect(connection.request('ping', {})).rejects.toMatchObject({ code: 'not_connected' })
  })

  it('shows reconnecting after a drop and retries at once when the browser is back online', async () => {
    signedIn()
    const { connection, ws } = await openAndHandshake()
    ws.serverClose(1006)
    await flush()
    expect(connection.status).toBe('reconnecting')
    expect(connection.session).toBeNull()
    window.dispatchEvent(new Event('online'))
    await flush()
    expect(FakeWebSocket.instances).toHaveLength(2)
  })

  it('logs out when the socket refuses the session and a refresh cannot save it', async () => {
    const auth = signedIn()
    vi.spyOn(auth, 'refreshTokens').mockResolvedValue(false)
    const logout = vi.spyOn(auth, 'logout').mockResolvedValue()
    const connection = useConnectionStore()
    connection.open(createHandlers())
    await flush()
    const ws = FakeWebSocket.last()
    ws.accept()
    await flush()
    ws.serverClose(1008)
    await flush()
    expect(logout).toHaveBeenCalledOnce()
    expect(connection.status).toBe('offline')
  })
})
