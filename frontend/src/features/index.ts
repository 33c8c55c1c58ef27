/**
 * The one table of socket handlers: every feature's entries, side by side. `satisfies Handlers`
 * makes a new incoming state (a state added on the server, then `make types`) fail to
 * type-check until it has an entry here.
 *
 * `make state name=yourState` adds an `import { xHandlers } from './x/handlers'` line among the
 * feature imports and a spread line above `} satisfies Handlers`: keep those two shapes.
 * `HandlerTable` is the type of what `createHandlers` returns, so it follows by itself.
 */
import type { Handlers } from '@/interfaces'
import { useAuthStore } from '@/stores/auth'
import { useChatStore } from '@/stores/chat'
import { useConnectionStore } from '@/stores/connection'
import { usePollsStore } from '@/stores/polls'
import { useToastsStore } from '@/stores/toasts'

import { chatHandlers } from './chat/handlers'
import { pollHandlers } from './polls/handlers'
import { sessionHandlers } from './session/handlers'

export function createHandlers() {
  const auth = useAuthStore()
  const chat = useChatStore()
  const connection = useConnectionStore()
  const polls = usePollsStore()
  const toasts = useToastsStore()
  const onReady = () => void chat.resume().then(() => polls.resume())
  return {
    ...sessionHandlers({ auth, connection, toasts, onReady }),
    ...chatHandlers(chat),
    ...pollHandlers(polls),
  } satisfies Handlers
}

/** The table's type as built, so a test can check its keys against `IncomingState`. */
export type HandlerTable = ReturnType<typeof createHandlers>
