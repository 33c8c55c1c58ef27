/**
 * The socket factory and the typed request helper. No Vue in here.
 *
 * `socketRequest()` gives a WebSocketAsPromised to `${wsurl}/socket` that packs frames as
 * JSON and matches replies to requests by their `id`. An error frame for a request carries
 * that request's `id` too, so `sendRequest` resolves with it; `request()` turns it into a
 * thrown `SocketRequestError`.
 */
import WebSocketAsPromised from 'websocket-as-promised'

import type {
  ErrorCode,
  ErrorDetail,
  ErrorFrame,
  Replies,
  RequestState,
  Requests,
} from '@/interfaces'

import { socketUrl } from './core'

/** JSON.parse for text frames (binary ones too, as the server allows); undefined = dropped. */
export function unpackMessage(data: string | ArrayBuffer | Blob): unknown {
  try {
    if (typeof data === 'string') return JSON.parse(data) as unknown
    if ('text' in data && typeof data.text === 'function') {
      return data
        .text()
        .then((text) => JSON.parse(text) as unknown)
        .catch(() => undefined)
    }
    return JSON.parse(new TextDecoder().decode(data as ArrayBuffer)) as unknown
  } catch (error) {
    console.warn('Socket: dropping a frame that is not JSON', error)
    return undefined
  }
}

export function socketRequest(url: string = socketUrl()): WebSocketAsPromised {
  return new WebSocketAsPromised(url, {
    packMessage: (data: unknown) => JSON.stringify(data),
    unpackMessage,
    attachRequestId: (data: object, requestId: string | number) => ({ ...data, id: requestId }),
    extractRequestId: (data: { id?: string | number } | null | undefined) =>
      data ? data.id : undefined,
  })
}

/** The part of WebSocketAsPromised this app uses; tests hand in a fake with the same shape. */
export type Socket = Pick<
  WebSocketAsPromised,
  | 'open'
  | 'close'
  | 'sendPacked'
  | 'sendRequest'
  | 'onUnpackedMessage'
  | 'onClose'
  | 'removeAllListeners'
>

/** Codes the client gives a request that never got an answer from the server. */
export type ClientErrorCode = 'not_connected' | 'connection_lost' | 'timeout'

/** A request that failed: an error frame from the server, or no answer at all. */
export class SocketRequestError extends Error {
  override readonly name = 'SocketRequestError'
  readonly code: ErrorCode | ClientErrorCode
  readonly details: ErrorDetail[]
  /** The state of the request that failed. */
  readonly request: string | null

  constructor(init: {
    code: ErrorCode | ClientErrorCode
    message: string
    request?: string | null
    details?: ErrorDetail[]
  }) {
    super(init.message)
    this.code = init.code
    this.request = init.request ?? null
    this.details = init.details ?? []
  }

  static fromFrame(frame: ErrorFrame): SocketRequestError {
    return new SocketRequestError({
      code: frame.code,
      message: frame.error,
      request: frame.request,
      details: frame.details,
    })
  }
}

export function isErrorFrame(value: unknown): value is ErrorFrame {
  return (
    typeof value === 'object' && value !== null && (value as { state?: unknown }).state === 'error'
  )
}

export interface RequestOptions {
  /** Milliseconds to wait for the answer; 0 waits for ever (the default is 15 s). */
  timeout?: number
}

export const DEFAULT_REQUEST_TIMEOUT = 15_000

/**
 * Sends `{state, data, id}` and resolves with the reply's `data`; an error frame, a timeout or
 * the socket closing first rejects with a `SocketRequestError`.
 */
export async function request<S extends RequestState>(
  socket: Socket,
  state: S,
  data: Requests[S],
  options: RequestOptions = {},
): Promise<Replies[S]> {
  let reply: unknown
  try {
    reply = await socket.sendRequest(
      { state, data },
      { timeout: options.timeout ?? DEFAULT_REQUEST_TIMEOUT },
    )
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const timedOut = /timeout/i.test(message)
    throw new SocketRequestError({
      code: timedOut ? 'timeout' : 'connection_lost',
      message: timedOut ? 'The server did not answer in time.' : 'The connection was lost.',
      request: state,
    })
  }
  if (isErrorFrame(reply)) throw SocketRequestError.fromFrame(reply)
  return (reply as { data: Replies[S] }).data
}
