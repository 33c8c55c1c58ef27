/**
 * The one live socket, for the whole app. Components and other stores send requests through
 * `request()`; incoming frames go to the handler table given to `open()`.
 */
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

import { dispatch } from '@/api/dispatch'
import { SocketClient } from '@/api/socketClient'
import type { ConnectionStatus, SocketClientOptions } from '@/api/socketClient'
import { SocketRequestError } from '@/api/request'
import type { RequestOptions } from '@/api/request'
import type { Handlers, Replies, RequestState, Requests } from '@/interfaces'

import { useAuthStore } from './auth'

export type { ConnectionStatus }

/** Test seam: what `open()` may override in the SocketClient it makes. */
export type ClientOverrides = Partial<Omit<SocketClientOptions, 'onFrame' | 'onStatus'>>

export const useConnectionStore = defineStore('connection', () => {
  const auth = useAuthStore()
  const status = ref<ConnectionStatus>('offline')
  /** The server's id for this connection, once the handshake is done. */
  const session = ref<string | null>(null)

  let client: SocketClient | null = null

  function onBrowserOnline(): void {
    client?.retryNow()
  }

  /** Opens the socket (closing any previous one) and sends every frame to `handlers`. */
  function open(handlers: Handlers, overrides: ClientOverrides = {}): void {
    close()
    client = new SocketClient({
      getToken: () => auth.freshToken(),
      refresh: () => auth.refreshTokens(),
      onAuthFailure: () => void auth.logout(),
      ...overrides,
      onFrame: (frame) => dispatch(handlers, frame),
      onStatus: (next) => {
        status.value = next
        if (next !== 'online') session.value = null
      },
    })
    window.addEventListener('online', onBrowserOnline)
    client.connect()
  }

  function close(): void {
    window.removeEventListener('online', onBrowserOnline)
    client?.close()
    client = null
    status.value = 'offline'
    session.value = null
  }

  function markReady(sessionId: string): void {
    session.value = sessionId
  }

  async function request<S extends RequestState>(
    state: S,
    data: Requests[S],
    options?: RequestOptions,
  ): Promise<Replies[S]> {
    if (!client) {
      throw new SocketRequestError({
        code: 'not_connected',
        message: 'Not connected.',
        request: state,
      })
    }
    return client.request(state, data, options)
  }

  // A refreshed access token goes to the live socket at once, so it is never closed for expiry.
  watch(
    () => auth.accessToken,
    (token, previous) => {
      if (client && token && previous && token !== previous) void client.reauth(token)
    },
    { flush: 'sync' },
  )

  return { status, session, open, close, markReady, request }
})
