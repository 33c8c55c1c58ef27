/** The socket engine's own states: the handshake, errors, and the built-in requests. */
import type { Handlers } from '@/interfaces'
import type { useAuthStore } from '@/stores/auth'
import type { useConnectionStore } from '@/stores/connection'
import type { useToastsStore } from '@/stores/toasts'

export interface SessionDeps {
  auth: ReturnType<typeof useAuthStore>
  connection: ReturnType<typeof useConnectionStore>
  toasts: ReturnType<typeof useToastsStore>
  /** Runs after every successful handshake (first connect and each reconnect). */
  onReady: () => void
}

export function sessionHandlers({ auth, connection, toasts, onReady }: SessionDeps) {
  return {
    initialised: ({ user, session }) => {
      auth.rememberUser(user)
      connection.markReady(session)
      onReady()
    },
    error: (frame) => {
      toasts.error(frame.error)
    },
    // Replies whose only use is to the code that awaited them.
    ping: () => undefined,
    reauth: () => undefined,
    close: () => undefined,
  } satisfies Partial<Handlers>
}
