/**
 * The socket factory. No Vue in here.
 *
 * `socketRequest()` gives a WebSocketAsPromised to `${wsurl}/socket` that packs frames as
 * JSON and matches replies to requests by their `id`. An error frame for a request carries
 * that request's `id` too, so `sendRequest` resolves with it; `request()` (./request.ts) turns
 * it into a thrown `SocketRequestError`.
 */
import WebSocketAsPromised from 'websocket-as-promised'

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
