import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { Backoff } from '../backoff'
import { HANDSHAKE_TIMEOUT_CLOSE, KEEPALIVE_TIMEOUT_CLOSE, SocketClient } from '../socketClient'
import type { SocketClientOptions } from '../socketClient'
import { FakeWebSocket } from './fakeWebSocket'

/** Lets promises settle and WebSocketAsPromised's setTimeout(0) listeners run, without moving time. */
const flush = () => vi.advanceTimersByTimeAsync(0)

const INITIALISED = {
  state: 'initialised',
  data: { user: { id: 1, email: 'ada@example.com', full_name: 'Ada' }, session: 's-1' },
}

function setup(overrides: Partial<SocketClientOptions> = {}) {
  const frames: unknown[] = []
  const statuses: string[] = []
  let tokenNumber = 0
  const getToken = vi.fn(() => Promise.resolve<string | null>(`token-${++tokenNumber}`))
  const refresh = vi.fn(() => Promise.resolve(true))
  const onAuthFailure = vi.fn()
  const client = new SocketClient({
    getToken,
    refresh,
    onAuthFailure,
    onFrame: (frame) => frames.push(frame),
    onStatus: (status) => statuses.push(status),
    backoff: new Backoff({ random: () => 0.5 }),
    ...overrides,
  })
  return { client, frames, statuses, getToken, refresh, onAuthFailure }
}

/** The newest socket opens and the server accepts the token. */
async function handshake(): Promise<FakeWebSocket> {
  const ws = FakeWebSocket.last()
  ws.accept()
  await flush()
  ws.receive(INITIALISED)
  await flush()
  return ws
}

/** Advances time and tells whether a new socket appeared exactly at `delay` ms, not before. */
async function reconnectsAfter(delay: number): Promise<boolean> {
  const before = FakeWebSocket.instances.length
  await vi.advanceTimersByTimeAsync(delay - 1)
  const early = FakeWebSocket.instances.length !== before
  await vi.advanceTimersByTimeAsync(1)
  return !early && FakeWebSocket.instances.length === before + 1
}

describe('SocketClient', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    FakeWebSocket.reset()
    vi.stubGlobal('WebSocket', FakeWebSocket)
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends {token} first and is online after "initialised"', async () => {
    const { client, frames, statuses } = setup()
    client.connect()
    await flush()
    expect(client.status).toBe('connecting')
    const ws = await handshake()
    expect(ws.frames[0]).toEqual({ token: 'token-1' })
    expect(client.status).toBe('online')
    expect(client.isReady).toBe(true)
    expect(statuses).toEqual(['connecting', 'online'])
    expect(frames).toEqual([INITIALISED])
  })

  it('passes every frame on, in order', async () => {
    const { client, frames } = setup()
    client.connect()
    await flush()
    const ws = await handshake()
    ws.receive({ state: 'presence', data: { room: 1, online: [] } })
    ws.receive({ state: 'whatever', data: {} })
    await flush()
    expect(frames.slice(1)).toEqual([
      { state: 'presence', data: { room: 1, online: [] } },
      { state: 'whatever', data: {} },
    ])
  })

  it('refuses requests before the handshake with not_connected', async () => {
    const { client } = setup()
    await expect(client.request('ping', {})).rejects.toMatchObject({ code: 'not_connected' })
    client.connect()
    await flush()
    FakeWebSocket.last().accept()
    await flush()
    await expect(client.request('ping', {})).rejects.toMatchObject({ code: 'not_connected' })
  })

  it('sends typed requests once online', async () => {
    const { client } = setup()
    client.connect()
    await flush()
    const ws = await handshake()
    const pong = client.request('ping', {})
    const sent = ws.frames[1]
    expect(sent).toMatchObject({ state: 'ping', data: {} })
    ws.receive({ state: 'ping', data: { time: 'now' }, id: sent?.id })
    await expect(pong).resolves.toEqual({ time: 'now' })
  })

  describe('reconnect backoff', () => {
    it('waits 0.5 s, then doubles up to 30 s while connects fail', async () => {
      const { client, statuses } = setup()
      client.connect()
      await flush()
      for (const delay of [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]) {
        FakeWebSocket.last().fail()
        await flush()
        expect(client.status).toBe('reconnecting')
        expect(await reconnectsAfter(delay)).toBe(true)
      }
      expect(statuses).toEqual(['connecting', 'reconnecting'])
    })

    it('uses jitter: each delay is moved by the random draw', async () => {
      const { client } = setup({ backoff: new Backoff({ random: () => 0 }) })
      client.connect()
      await flush()
      FakeWebSocket.last().fail()
      await flush()
      expect(await reconnectsAfter(400)).toBe(true)
      FakeWebSocket.last().fail()
      await flush()
      expect(await reconnectsAfter(800)).toBe(true)
    })

    it('starts again from 0.5 s after a successful connect', async () => {
      const { client, statuses } = setup()
      client.connect()
      await flush()
      for (const delay of [500, 1000, 2000]) {
        FakeWebSocket.last().fail()
        await flush()
        expect(await reconnectsAfter(delay)).toBe(true)
      }
      await handshake()
      FakeWebSocket.last().serverClose(1006)
      await flush()
      expect(client.status).toBe('reconnecting')
      expect(await reconnectsAfter(500)).toBe(true)
      await handshake()
      expect(statuses).toEqual(['connecting', 'reconnecting', 'online', 'reconnecting', 'online'])
    })

    it('reconnects after a server shutdown (1001) with a fresh token', async () => {
      const { client, getToken } = setup()
      client.connect()
      await flush()
      await handshake()
      FakeWebSocket.last().serverClose(1001)
      await flush()
      expect(await reconnectsAfter(500)).toBe(true)
      const ws = await handshake()
      expect(ws.frames[0]).toEqual({ token: 'token-2' })
      expect(getToken).toHaveBeenCalledTimes(2)
    })

    it('retryNow() skips the rest of the wait', async () => {
      const { client } = setup()
      client.connect()
      await flush()
      await handshake()
      FakeWebSocket.last().serverClose(1006)
      await flush()
      expect(FakeWebSocket.instances).toHaveLength(1)
      client.retryNow()
      await flush()
      expect(FakeWebSocket.instances).toHaveLength(2)
    })
  })

  describe('close codes', () => {
    it('4001 (token expired): refreshes, then reconnects', async () => {
      const { client, refresh, onAuthFailure } = setup()
      client.connect()
      await flush()
      await handshake()
      const ws = FakeWebSocket.last()
      ws.receive({ state: 'error', error: 'Token expired.', code: 'token_expired', request: null })
      ws.serverClose(4001)
      await flush()
      expect(refresh).toHaveBeenCalledTimes(1)
      expect(await reconnectsAfter(500)).toBe(true)
      const next = await handshake()
      expect(next.frames[0]).toEqual({ token: 'token-2' })
      expect(client.status).toBe('online')
      expect(onAuthFailure).not.toHaveBeenCalled()
    })

    it('4001 and the refresh fails: gives up and reports the auth failure', async () => {
      const { client, onAuthFailure } = setup({ refresh: vi.fn(() => Promise.resolve(false)) })
      client.connect()
      await flush()
      await handshake()
      FakeWebSocket.last().serverClose(4001)
      await flush()
      expect(onAuthFailure).toHaveBeenCalledTimes(1)
      expect(client.status).toBe('offline')
      await vi.advanceTimersByTimeAsync(60_000)
      expect(FakeWebSocket.instances).toHaveLength(1)
    })

    it('4001 while the refresh cannot reach the server: keeps retrying with backoff', async () => {
      const refresh = vi.fn(() => Promise.reject(new TypeError('Failed to fetch')))
      const { client, onAuthFailure } = setup({ refresh })
      client.connect()
      await flush()
      await handshake()
      FakeWebSocket.last().serverClose(4001)
      await flush()
      expect(onAuthFailure).not.toHaveBeenCalled()
      expect(await reconnectsAfter(500)).toBe(true)
    })

    it('1008 after a failed handshake: one refresh and retry, then logs out', async () => {
      const { client, refresh, onAuthFailure } = setup()
      client.connect()
      await flush()
      const reject = async () => {
        const ws = FakeWebSocket.last()
        ws.accept()
        await flush()
        ws.receive({
          state: 'error',
          error: 'Could not validate credentials.',
          code: 'unauthorized',
          request: null,
        })
        ws.serverClose(1008)
        await flush()
      }
      await reject()
      expect(refresh).toHaveBeenCalledTimes(1)
      expect(onAuthFailure).not.toHaveBeenCalled()
      expect(await reconnectsAfter(500)).toBe(true)
      await reject()
      expect(refresh).toHaveBeenCalledTimes(1)
      expect(onAuthFailure).toHaveBeenCalledTimes(1)
      expect(client.status).toBe('offline')
      await vi.advanceTimersByTimeAsync(60_000)
      expect(FakeWebSocket.instances).toHaveLength(2)
    })

    it('1008 and the refresh says the session is gone: logs out at once', async () => {
      const { client, onAuthFailure } = setup({ refresh: vi.fn(() => Promise.resolve(false)) })
      client.connect()
      await flush()
      const ws = FakeWebSocket.last()
      ws.accept()
      await flush()
      ws.serverClose(1008)
      await flush()
      expect(onAuthFailure).toHaveBeenCalledTimes(1)
      expect(FakeWebSocket.instances).toHaveLength(1)
    })

    it('a good handshake earns another refresh for a later 1008', async () => {
      const { client, refresh, onAuthFailure } = setup()
      client.connect()
      await flush()
      FakeWebSocket.last().accept()
      await flush()
      FakeWebSocket.last().serverClose(1008)
      await flush()
      await vi.advanceTimersByTimeAsync(500)
      await handshake()
      FakeWebSocket.last().serverClose(1008) // a reauth with a bad token, say
      await flush()
      expect(refresh).toHaveBeenCalledTimes(2)
      expect(onAuthFailure).not.toHaveBeenCalled()
    })

    it('1008 for too many connections is not an auth failure: plain backoff', async () => {
      const { client, refresh, onAuthFailure } = setup()
      client.connect()
      await flush()
      for (const delay of [500, 1000, 2000]) {
        const ws = FakeWebSocket.last()
        ws.accept()
        await flush()
        ws.receive({
          state: 'error',
          error: 'Too many connections.',
          code: 'too_many_connections',
          request: null,
        })
        ws.serverClose(1008)
        await flush()
        expect(await reconnectsAfter(delay)).toBe(true)
      }
      expect(refresh).not.toHaveBeenCalled()
      expect(onAuthFailure).not.toHaveBeenCalled()
    })

    it('no token at all: reports the auth failure without opening a socket', async () => {
      const { client, onAuthFailure } = setup({ getToken: vi.fn(() => Promise.resolve(null)) })
      client.connect()
      await flush()
      expect(onAuthFailure).toHaveBeenCalledTimes(1)
      expect(FakeWebSocket.instances).toHaveLength(0)
    })
  })

  it('gives up on a handshake that gets no answer, and tries again', async () => {
    const { client } = setup({ handshakeTimeout: 5000 })
    client.connect()
    await flush()
    const ws = FakeWebSocket.last()
    ws.accept()
    await flush()
    await vi.advanceTimersByTimeAsync(5000)
    expect(ws.closedWith?.code).toBe(HANDSHAKE_TIMEOUT_CLOSE)
    // The close event was dispatched from inside that timer; fake timers run it 1 ms later.
    await vi.advanceTimersByTimeAsync(1)
    expect(client.status).toBe('reconnecting')
    expect(await reconnectsAfter(500)).toBe(true)
  })

  it('pings while online and reconnects when a ping goes unanswered', async () => {
    const { client } = setup({ keepAliveInterval: 20_000 })
    client.connect()
    await flush()
    const ws = await handshake()
    await vi.advanceTimersByTimeAsync(20_000)
    const ping = ws.frames[1]
    expect(ping).toMatchObject({ state: 'ping', data: {} })
    ws.receive({ state: 'ping', data: { time: 'now' }, id: ping?.id })
    await vi.advanceTimersByTimeAsync(20_000)
    expect(ws.frames).toHaveLength(3)
    expect(ws.closedWith).toBeNull()
    await vi.advanceTimersByTimeAsync(10_000) // the second ping's answer never comes
    expect(ws.closedWith?.code).toBe(KEEPALIVE_TIMEOUT_CLOSE)
    await vi.advanceTimersByTimeAsync(1)
    expect(client.status).toBe('reconnecting')
    expect(await reconnectsAfter(500)).toBe(true)
  })

  it('close() goes offline for good and fails pending requests', async () => {
    const { client, statuses } = setup()
    client.connect()
    await flush()
    const ws = await handshake()
    const pending = client.request('ping', {})
    client.close()
    expect(client.status).toBe('offline')
    expect(ws.closedWith?.code).toBe(1000)
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost' })
    await vi.advanceTimersByTimeAsync(120_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(statuses).toEqual(['connecting', 'online', 'offline'])
  })

  it('close() during the wait before a reconnect cancels it', async () => {
    const { client } = setup()
    client.connect()
    await flush()
    FakeWebSocket.last().fail()
    await flush()
    client.close()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('reauth() sends the new token on the live socket', async () => {
    const { client } = setup()
    client.connect()
    await flush()
    const ws = await handshake()
    void client.reauth('token-new')
    expect(ws.frames[1]).toMatchObject({ state: 'reauth', data: { token: 'token-new' } })
  })
})
