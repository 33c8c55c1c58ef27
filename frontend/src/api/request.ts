/**
 * Typed requests: `request(socket, 'sendMessage', data)` sends `{state, data, id}` and resolves
 * with the reply's `data`, typed by the state's name from the generated `Requests`/`Replies`; it
 * rejects with a `SocketRequestError`. No Vue in here.
 *
 * The app calls it through the live connection, without the socket argument:
 * `useConnectionStore().request('sendMessage', {room, text})` (or `SocketClient.request`).
 * Every shape of `RequestFn` is checked at compile time: an unknown state, or data that does not
 * match the state's request model, does not type-check.
 */
import type {
  ErrorCode,
  ErrorDetail,
  ErrorFrame,
  Replies,
  RequestState,
  Requests,
} from '@/interfaces'

import type { Socket } from './sockets'

/** Codes the client gives a request that never got an answer from the server. */
export type ClientErrorCode = 'not_connected' | 'connection_lost' | 'timeout'

/** A `SocketRequestError`'s code: the server's (`ErrorCode`, generated) or the client's own. */
export type RequestErrorCode = ErrorCode | ClientErrorCode

/** A request that failed: an error frame from the server, or no answer at all. */
export class SocketRequestError extends Error {
  override readonly name = 'SocketRequestError'
  readonly code: RequestErrorCode
  /** Only for `invalid_data`: which fields the server refused, and why. */
  readonly details: ErrorDetail[]
  /** The state of the request that failed. */
  readonly request: string | null

  constructor(init: {
    code: RequestErrorCode
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

/** The shape of `request` once bound to a connection (the connection store's, the client's). */
export type RequestFn = <S extends RequestState>(
  state: S,
  data: Requests[S],
  options?: RequestOptions,
) => Promise<Replies[S]>

/**
 * Sends `{state, data, id}` and resolves with the reply's `data`; an error frame with the same
 * id, a timeout or the socket closing first rejects with a `SocketRequestError`.
 */
export async function request<S extends RequestState>(
  socket: Pick<Socket, 'sendRequest'>,
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
