/**
 * The one table of socket handlers: every feature's entries, side by side. `satisfies Handlers`
 * makes a new incoming state (added in src/interfaces/protocol.ts) fail to type-check until
 * it has an entry here.
 */
import type { Handlers } from '@/interfaces'
import { useAuthStore } from '@/stores/auth'
import { useChatStore } from '@/stores/chat'
import { useConnectionStore } from '@/stores/connection'
import { useToastsStore } from '@/stores/toasts'

import { chatHandlers } from './chat/handlers'
import { sessionHandlers } from './session/handlers'

/** The table's type as built, so a test can check its keys against `IncomingState`. */
export type HandlerTable = ReturnType<typeof sessionHandlers> & ReturnType<typeof chatHandlers>

export function createHandlers(): Handlers {
  const auth = useAuthStore()
  const chat = useChatStore()
  const connection = useConnectionStore()
  const toasts = useToastsStore()
  return {
    ...sessionHandlers({ auth, connection, toasts, onReady: () => void chat.resume() }),
    ...chatHandlers(chat),
  } satisfies Handlers
}
