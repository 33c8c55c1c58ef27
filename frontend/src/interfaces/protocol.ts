/**
 * The socket vocabulary: every request, reply, event and error frame (docs/protocol.md).
 *
 * Adding a state is adding one key to `Requests` and `Replies` (a request) or to `Events`
 * (a server push); `Handlers` then fails to type-check until the handler table has it.
 */
import type { ChatUser, ErrorDetail, Message, Room, SocketUser } from './models'

/** An object with no keys: `{}` on the wire. */
export type Empty = Record<string, never>

export type RequestId = string | number

/** `data` of each request the client sends. */
export interface Requests {
  ping: Empty
  reauth: { token: string }
  close: Empty
  listRooms: Empty
  createRoom: { name: string; topic?: string }
  joinRoom: { room: number; since?: number }
  leaveRoom: { room: number }
  sendMessage: { room: number; text: string; client_id?: string }
  history: { room: number; before?: number; limit?: number }
  typing: { room: number }
  markRead: { room: number; seq: number }
}

/** `data` of the reply to each request (same `state`, same `id`). */
export interface Replies {
  ping: { time: string }
  reauth: { expires_at: string }
  close: Empty
  listRooms: { rooms: Room[] }
  createRoom: { room: Room }
  joinRoom: {
    room: Room
    online: ChatUser[]
    messages: Message[]
    has_more: boolean
    last_seq: number
  }
  leaveRoom: { room: number }
  sendMessage: { message: Message }
  history: { messages: Message[]; has_more: boolean }
  typing: Empty
  markRead: { room: number; unread: number }
}

/** `data` of each event the server pushes (never an `id`). */
export interface Events {
  message: Message
  userJoined: { room: number; user: ChatUser }
  userLeft: { room: number; user: ChatUser }
  typing: { room: number; user: ChatUser }
  presence: { room: number; online: ChatUser[] }
}

/** `data` of the handshake's answer. */
export interface Initialised {
  user: SocketUser
  session: string
}

export type ErrorCode =
  | 'unauthorized'
  | 'too_many_connections'
  | 'invalid_json'
  | 'invalid_request'
  | 'unknown_state'
  | 'invalid_data'
  | 'invalid_state'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'token_expired'
  | 'internal_error'

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

/** Every incoming state at run time; the `satisfies` keeps it in step with `IncomingState`. */
export const INCOMING_STATES = Object.keys({
  initialised: true,
  error: true,
  ping: true,
  reauth: true,
  close: true,
  listRooms: true,
  createRoom: true,
  joinRoom: true,
  leaveRoom: true,
  sendMessage: true,
  history: true,
  typing: true,
  markRead: true,
  message: true,
  userJoined: true,
  userLeft: true,
  presence: true,
} satisfies Record<IncomingState, true>) as IncomingState[]
