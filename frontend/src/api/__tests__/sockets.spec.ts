import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { request, socketRequest, SocketRequestError, unpackMessage } from '../sockets'
import { FakeWebSocket } from './fakeWebSocket'

async function openSocket() {
  const wsp = socketRequest('ws://test/api/v1/socket')
  const opening = wsp.open()
  FakeWebSocket.last().accept()
  await opening
  return { wsp, server: FakeWebSocket.last() }
}

describe('socketRequest', () => {
  beforeEach(() => {
    FakeWebSocket.reset()
    vi.stubGlobal('WebSocket', FakeWebSocket)
  })
  afterEach(() => vi.useRealTimers())

  it('connects to the URL it is given, defaulting to the API socket', async () => {
    const { server } = await openSocket()
    expect(server.url).toBe('ws://test/api/v1/socket')
    socketRequest()
      .open()
      .catch(() => undefined)
    expect(FakeWebSocket.last().url).toBe(`ws://${window.location.host}/api/v1/socket`)
  })

  it('packs frames as JSON and attaches the request id', async () => {
    const { wsp, server } = await openSocket()
    wsp.sendPacked({ token: 'abc' })
    void wsp.sendRequest({ state: 'ping', data: {} }, { requestId: 7 })
    expect(server.frames).toEqual([{ token: 'abc' }, { state: 'ping', data: {}, id: 7 }])
  })

  it('hands every unpacked frame to onUnpackedMessage listeners', async () => {
    const { wsp, server } = await openSocket()
    const seen: unknown[] = []
    wsp.onUnpackedMessage.addListener((frame: unknown) => seen.push(frame))
    server.receive({ state: 'message', data: { id: 1 } })
    await vi.waitFor(() => expect(seen).toEqual([{ state: 'message', data: { id: 1 } }]))
  })
})

describe('request()', () => {
  beforeEach(() => {
    FakeWebSocket.reset()
    vi.stubGlobal('WebSocket', FakeWebSocket)
  })
  afterEach(() => vi.useRealTimers())

  it('resolves with the data of the reply that carries its id', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'listRooms', {})
    const sent = server.frames[0]
    expect(sent).toMatchObject({ state: 'listRooms', data: {} })
    // An event and someone else's reply do not resolve it.
    server.receive({ state: 'presence', data: { room: 1, online: [] } })
    server.receive({ state: 'listRooms', data: { rooms: ['wrong'] }, id: 'other' })
    server.receive({ state: 'listRooms', data: { rooms: [] }, id: sent?.id })
    await expect(pending).resolves.toEqual({ rooms: [] })
  })

  it('turns an error frame for the request into a typed SocketRequestError', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'createRoom', { name: '' })
    const details = [{ loc: ['name'], type: 'string_too_short', msg: 'too short' }]
    server.receive({
      state: 'error',
      error: 'Invalid data.',
      code: 'invalid_data',
      request: 'createRoom',
      id: server.frames[0]?.id,
      details,
    })
    const error: unknown = await pending.catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SocketRequestError)
    expect(error).toMatchObject({
      code: 'invalid_data',
      message: 'Invalid data.',
      request: 'createRoom',
      details,
    })
  })

  it('fails with connection_lost when the socket closes before the reply', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'ping', {})
    server.serverClose(1006)
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost' })
  })

  it('fails with timeout when no reply comes in time', async () => {
    vi.useFakeTimers()
    const { wsp } = await openSocket()
    const pending = request(wsp, 'ping', {}, { timeout: 1000 })
    const outcome = pending.catch((caught: unknown) => caught)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await outcome).toMatchObject({ code: 'timeout' })
  })
})

describe('unpackMessage', () => {
  it('parses text and binary JSON frames', async () => {
    expect(unpackMessage('{"state":"ping"}')).toEqual({ state: 'ping' })
    const bytes = new TextEncoder().encode('{"state":"ping"}')
    expect(unpackMessage(bytes.buffer)).toEqual({ state: 'ping' })
    await expect(unpackMessage(new Blob(['{"a":1}']))).resolves.toEqual({ a: 1 })
  })

  it('drops a frame that is not JSON with a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    expect(unpackMessage('not json')).toBeUndefined()
    expect(warn).toHaveBeenCalled()
  })
})
