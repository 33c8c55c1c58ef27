/**
 * The backend's models as they travel on the wire (docs/protocol.md).
 *
 * The socket's models are generated from the backend's pydantic models into ./generated.ts
 * (`make types`); the names the app uses are aliases of them, so a change on the server shows
 * up here as a type error. The REST models are written by hand.
 */
import type { MessageOut, PollOut, PollReply, RoomOut, UserOut, UserSummary } from './generated'

/** `User` from the REST API. */
export interface User {
  id: number
  email: string
  full_name: string
  is_active: boolean
  is_superuser: boolean
  created_at: string
}

/** `Tokens` from POST /login/access-token and /login/refresh-token. */
export interface Tokens {
  access_token: string
  refresh_token: string
  token_type: 'bearer'
  /** Seconds until the access token expires. */
  expires_in: number
}

/** The user as the socket's `initialised` frame names them. */
export type SocketUser = UserSummary

/** A user as every chat state names them (`{id: 0, full_name: "Deleted user"}` once deleted). */
export type ChatUser = UserOut

/** A room, as the current user sees it (`joined`, `unread`); `topic` is "" when it has none. */
export type Room = RoomOut

export type Message = MessageOut

/** A poll in a room with its current counts: `counts[i]` votes for `options[i]`. */
export type Poll = PollOut

/** A poll and the current user's vote in it (an option's index, or null). */
export type PollWithVote = PollReply

/** One entry of FastAPI's 422 `detail` list, and of an `invalid_data` error's `details`. */
export interface ErrorDetail {
  loc: (string | number)[]
  msg: string
  type: string
}
