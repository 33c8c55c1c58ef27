import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest'

import type { ErrorCode, Message, Replies } from '@/interfaces'

import { request, SocketRequestError } from '../request'
import type { RequestErrorCode, RequestFn } from '../request'
import { socketRequest } from '../sockets'
import { FakeWebSocket } from './fakeWebSocket'

async function openSocket() {
  const wsp = socketRequest('ws://test/api/v1/socket')
  const opening = wsp.open()
  FakeWebSocket.last().accept()
  await opening
  return { wsp, server: FakeWebSocket.last() }
}

const message: Message = {
  id: 90,
  room: 3,
  seq: 42,
  user: { id: 1, full_name: 'Ada' },
  text: 'hello',
  created_at: '2024-05-01T10:00:00Z',
  client_id: 'b1c2',
}

describe('request()', () => {
  beforeEach(() => {
    FakeWebSocket.reset()
    vi.stubGlobal('WebSocket', FakeWebSocket)
  })
  afterEach(() => vi.useRealTimers())

  it('resolves with the data of the reply that carries its id', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'sendMessage', { room: 3, text: 'hello', client_id: 'b1c2' })
    const sent = server.frames[0]
    expect(sent).toMatchObject({
      state: 'sendMessage',
      data: { room: 3, text: 'hello', client_id: 'b1c2' },
    })
    // An event and someone else's reply do not resolve it.
    server.receive({ state: 'message', data: { ...message, id: 91 } })
    server.receive({ state: 'sendMessage', data: { message: 'wrong' }, id: 'other' })
    server.receive({ state: 'sendMessage', data: { message }, id: sent?.id })
    await expect(pending).resolves.toEqual({ message })
  })

  it('rejects with a typed SocketRequestError for an error frame with its id', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'createRoom', { name: '' })
    const details = [{ loc: ['name'], type: 'string_too_short', msg: 'too short' }]
    // Another request's error does not reject it.
    server.receive({ state: 'error', error: 'No.', code: 'forbidden', request: 'x', id: 'other' })
    server.receive({
      state: 'error',
      error: 'The request data is invalid.',
      code: 'invalid_data',
      request: 'createRoom',
      id: server.frames[0]?.id,
      details,
    })
    const error: unknown = await pending.catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SocketRequestError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({
      name: 'SocketRequestError',
      code: 'invalid_data',
      message: 'The request data is invalid.',
      request: 'createRoom',
      details,
    })
  })

  it('gives an error frame without details an empty list', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'joinRoom', { room: 404 })
    server.receive({
      state: 'error',
      error: 'No such room.',
      code: 'not_found',
      request: 'joinRoom',
      id: server.frames[0]?.id,
    })
    await expect(pending).rejects.toMatchObject({ code: 'not_found', details: [] })
  })

  it('fails with connection_lost when the socket closes before the reply', async () => {
    const { wsp, server } = await openSocket()
    const pending = request(wsp, 'ping', {})
    server.serverClose(1006)
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost', request: 'ping' })
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

describe('request() types', () => {
  // Checked by `npm run type-check` (vue-tsc), not at run time: each `@ts-expect-error` fails
  // the build if the line under it ever compiles.
  const socket = { sendRequest: () => Promise.resolve<unknown>({}) }

  it('types the data by state and the reply by state', () => {
    expectTypeOf(request(socket, 'sendMessage', { room: 1, text: 'hi' })).toEqualTypeOf<
      Promise<Replies['sendMessage']>
    >()
    expectTypeOf(request(socket, 'pollVote', { poll: 1, option: 0 })).resolves.toEqualTypeOf<
      Replies['pollVote']
    >()
    expectTypeOf<Awaited<ReturnType<typeof request<'listPolls'>>>['polls']>().toBeArray()
  })

  it('refuses an unknown state, a wrong data shape and a missing field', () => {
    const reject = (promise: Promise<unknown>) => void promise.catch(() => undefined)
    // @ts-expect-error no such state
    reject(request(socket, 'sendMesage', { room: 1, text: 'hi' }))
    // @ts-expect-error `text` is a string
    reject(request(socket, 'sendMessage', { room: 1, text: 42 }))
    // @ts-expect-error `room` is missing
    reject(request(socket, 'sendMessage', { text: 'hi' }))
    // @ts-expect-error `colour` is not a field of createRoom
    reject(request(socket, 'createRoom', { name: 'a', colour: 'red' }))
    // @ts-expect-error the data of another state
    reject(request(socket, 'pollVote', { room: 1, question: 'q', options: ['a', 'b'] }))
    expect(true).toBe(true)
  })

  it('binds to a connection as RequestFn, with the same checks', () => {
    const bound: RequestFn = (state, data, options) => request(socket, state, data, options)
    expectTypeOf(bound('markRead', { room: 1, seq: 2 })).resolves.toEqualTypeOf<
      Replies['markRead']
    >()
    // @ts-expect-error no such state
    void bound('nope', {}).catch(() => undefined)
  })

  it('carries the generated error codes, and the client-side ones', () => {
    expectTypeOf<SocketRequestError['code']>().toEqualTypeOf<RequestErrorCode>()
    expectTypeOf<ErrorCode>().toExtend<RequestErrorCode>()
    const error = new SocketRequestError({ code: 'conflict', message: 'Taken.' })
    expect(error).toMatchObject({ code: 'conflict', request: null, details: [] })
    // @ts-expect-error not an error code
    expect(new SocketRequestError({ code: 'oops', message: '' }).code).toBe('oops')
  })
})
