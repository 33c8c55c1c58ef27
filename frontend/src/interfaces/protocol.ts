/**
 * The socket vocabulary: every request, reply, event and error frame (docs/protocol.md).
 *
 * `Requests`, `Replies`, `Events` and `ErrorCode` are generated from the backend's state
 * registry into ./generated.ts (`make types`); this module builds the frame types and the
 * handler table's type on them. A state added on the server and `make types` make `Handlers`
 * fail to type-check until the handler table (src/features/index.ts) has an entry for it.
 * The handshake (`initialised`) and the error frame belong to the engine, not to a state, so
 * they are written here.
 */
import { EVENT_STATES, REQUEST_STATES } from './generated'
import type { ErrorCode, Events, Replies, RequestId, Requests } from './generated'
import type { ErrorDetail, SocketUser } from './models'

export type { Empty, ErrorCode, Events, Replies, RequestId, Requests } from './generated'

/** `data` of the handshake's answer. */
export interface Initialised {
  user: SocketUser
  session: string
}

/** `{"state": "error", ...}`: the answer to a bad request, or to a bad handshake. */
export interface ErrorFrame {
  state: 'error'
  error: string
  code: ErrorCode
  /** The state of the request that failed, or null. */
  request: string | null
  id?: RequestId
  /** Only for `invalid_data`. */
  details?: ErrorDetail[]
}

export type RequestState = keyof Requests
export type EventState = keyof Events
/** Every `state` the server can send. */
export type IncomingState = 'initialised' | 'error' | RequestState | EventState

/**
 * What the handler of a state receives: a reply's or event's `data` (both, for a state that is
 * a reply and an event, like `typing`), the handshake's data, or the whole error frame.
 */
export type DataOf<S extends IncomingState> = S extends 'error'
  ? ErrorFrame
  : S extends 'initialised'
    ? Initialised
    : (S extends RequestState ? Replies[S] : never) | (S extends EventState ? Events[S] : never)

/** A frame that carries `data`: the handshake, a reply or an event. */
export interface DataFrame<S extends IncomingState = IncomingState> {
  state: S
  data: DataOf<S>
  id?: RequestId
}

/** A discriminated union of every incoming frame, keyed by `state`. */
export type IncomingFrame =
  | ErrorFrame
  | { [S in Exclude<IncomingState, 'error'>]: DataFrame<S> }[Exclude<IncomingState, 'error'>]

/** The one table of handlers: one entry per incoming state. */
export type Handlers = { [S in IncomingState]: (data: DataOf<S>) => void }

/** An outgoing request frame. */
export interface RequestFrame<S extends RequestState = RequestState> {
  state: S
  data: Requests[S]
  id?: RequestId
}

/** The socket's close codes that the client acts on. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
  tokenExpired: 4001,
} as const

/**
 * Every incoming state at run time, once each (`typing` is a reply and an event): the engine's
 * two, then the generated request and event names.
 */
export const INCOMING_STATES: readonly IncomingState[] = [
  ...new Set<IncomingState>(['initialised', 'error', ...REQUEST_STATES, ...EVENT_STATES]),
]
