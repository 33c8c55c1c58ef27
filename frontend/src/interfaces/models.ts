/**
 * The backend's models as they travel on the wire (docs/protocol.md).
 * Hand-written for now; a later step generates them into ./generated.ts.
 */

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
export interface SocketUser {
  id: number
  email: string
  full_name: string
}

/** A user as every chat state names them. */
export interface ChatUser {
  id: number
  full_name: string
}

export interface Room {
  id: number
  name: string
  /** "" when the room has none. */
  topic: string
  member_count: number
  online_count: number
  last_seq: number
  joined: boolean
  unread: number
}

export interface Message {
  id: number
  room: number
  seq: number
  user: ChatUser
  text: string
  created_at: string
  client_id: string | null
}

/** One entry of FastAPI's 422 `detail` list, and of an `invalid_data` error's `details`. */
export interface ErrorDetail {
  loc: (string | number)[]
  msg: string
  type: string
}
