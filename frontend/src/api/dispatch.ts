/**
 * Routes each incoming frame to its entry in the handler table, by `state`. No Vue in here.
 *
 * The table (see src/features/index.ts) has exactly one entry per incoming state, which the
 * `Handlers` type enforces; a state the table does not know is warned about and dropped.
 */
import type { DataOf, Handlers, IncomingFrame, IncomingState } from '@/interfaces'

function call<S extends IncomingState>(handlers: Handlers, state: S, data: DataOf<S>): void {
  handlers[state](data)
}

export function dispatch(handlers: Handlers, frame: unknown): void {
  if (typeof frame !== 'object' || frame === null) {
    console.warn('Socket: ignoring a frame that is not an object', frame)
    return
  }
  const state = (frame as { state?: unknown }).state
  if (typeof state !== 'string' || !Object.hasOwn(handlers, state)) {
    console.warn(`Socket: no handler for state ${JSON.stringify(state)}`, frame)
    return
  }
  const incoming = frame as IncomingFrame
  try {
    if (incoming.state === 'error') call(handlers, 'error', incoming)
    else call(handlers, incoming.state, incoming.data)
  } catch (error) {
    // One failing handler must not stop the frames after it.
    console.error(`Socket: the handler for "${state}" failed`, error)
  }
}
