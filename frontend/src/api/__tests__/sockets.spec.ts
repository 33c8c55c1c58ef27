import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { socketRequest, unpackMessage } from '../sockets'
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
