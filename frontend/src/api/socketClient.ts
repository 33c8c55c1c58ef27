/**
 * One live, self-healing socket: handshake, reconnect with backoff, token refresh on the close
 * codes that ask for it, and typed requests. No Vue and no chat in here: frames go to `onFrame`,
 * whose owner dispatches them.
 *
 * Life of a connection:
 *   connect() → [getToken] → open → send {token} → "initialised" → online
 *   close 4001 (token expired)          → refresh, then reconnect
 *   close 1008 (auth failed)            → refresh once and reconnect; again, or refresh fails → onAuthFailure
 *   any other drop                      → reconnect after backoff (0.5 s doubling to 30 s, jittered)
 *   close()                             → offline, no reconnect
 */
import { CloseCode } from '@/interfaces'
import type { Replies, RequestState, Requests } from '@/interfaces'

import { Backoff } from './backoff'
import { request, SocketRequestError } from './request'
import type { RequestOptions } from './request'
import { socketRequest } from './sockets'
import type { Socket } from './sockets'

export type ConnectionStatus = 'connecting' | 'online' | 'reconnecting' | 'offline'

export interface SocketClientOptions {
  /** A WebSocket with WebSocketAsPromised's API for each attempt; `socketRequest` by default. */
  createSocket?: () => Socket
  /** A valid access token (refreshed first when close to expiry), or null when signed out. */
  getToken: () => Promise<string | null>
  /** Forces a refresh: true = a new token, false = the session is gone; throws on network trouble. */
  refresh: () => Promise<boolean>
  /** Every frame the server sends, in order (the handshake's answer included). */
  onFrame: (frame: unknown) => void
  onStatus?: (status: ConnectionStatus) => void
  /** The session cannot be restored: the owner logs out. */
  onAuthFailure?: () => void
  backoff?: Backoff
  /** Ms to wait for "initialised" after sending the token (the server's own limit is 10 s). */
  handshakeTimeout?: number
  requestTimeout?: number
  /** Ms between keep-alive `ping`s while online (0: none); an unanswered one forces a reconnect. */
  keepAliveInterval?: number
}

type Timer = ReturnType<typeof setTimeout>

/** The close code the client uses when it gives up on a handshake or a silent connection. */
export const HANDSHAKE_TIMEOUT_CLOSE = 4000
export const KEEPALIVE_TIMEOUT_CLOSE = 4002

export class SocketClient {
  private readonly options: SocketClientOptions
  private readonly backoff: Backoff
  private readonly createSocket: () => Socket

  private socket: Socket | null = null
  private running = false
  private ready = false
  /** Bumped by connect() and close(): async steps of an older run see it and stop. */
  private generation = 0
  /** A 1008 already cost one refresh since the last good handshake. */
  private authRetried = false
  private lastErrorCode: string | null = null
  private reconnectTimer: Timer | null = null
  private handshakeTimer: Timer | null = null
  private keepAliveTimer: ReturnType<typeof setInterval> | null = null
  private statusValue: ConnectionStatus = 'offline'

  constructor(options: SocketClientOptions) {
    this.options = options
    this.backoff = options.backoff ?? new Backoff()
    this.createSocket = options.createSocket ?? (() => socketRequest())
  }

  get status(): ConnectionStatus {
    return this.statusValue
  }

  /** Handshake done: requests can be sent. */
  get isReady(): boolean {
    return this.ready
  }

  connect(): void {
    if (this.running) return
    this.running = true
    this.generation += 1
    this.authRetried = false
    this.backoff.reset()
    void this.attempt(this.generation)
  }

  /** Closes for good (until the next connect()); pending requests fail with `connection_lost`. */
  close(): void {
    this.running = false
    this.generation += 1
    this.clearTimers()
    const socket = this.socket
    this.socket = null
    this.ready = false
    if (socket) {
      socket.removeAllListeners()
      socket.close(CloseCode.normal).catch(() => undefined)
    }
    this.setStatus('offline')
  }

  /** Skips the rest of a backoff wait (the browser says it is back online, say). */
  retryNow(): void {
    if (!this.running || this.reconnectTimer === null) return
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    void this.attempt(this.generation)
  }

  async request<S extends RequestState>(
    state: S,
    data: Requests[S],
    options: RequestOptions = {},
  ): Promise<Replies[S]> {
    if (!this.socket || !this.ready) {
      throw new SocketRequestError({
        code: 'not_connected',
        message: 'Not connected.',
        request: state,
      })
    }
    return request(this.socket, state, data, { timeout: this.options.requestTimeout, ...options })
  }

  /** Hands the live socket a fresh access token so it is not closed with 4001. */
  async reauth(token: string): Promise<void> {
    if (!this.ready) return
    try {
      await this.request('reauth', { token })
    } catch {
      // A bad token makes the server close with 1008, which handleClose deals with.
    }
  }

  private async attempt(generation: number): Promise<void> {
    this.reconnectTimer = null
    if (generation !== this.generation) return
    // The first attempt is 'connecting'; every later one stays 'reconnecting'.
    if (this.statusValue === 'offline') this.setStatus('connecting')

    let token: string | null
    try {
      token = await this.options.getToken()
    } catch {
      if (generation === this.generation) this.scheduleReconnect()
      return
    }
    if (generation !== this.generation) return
    if (!token) {
      this.authFailed()
      return
    }

    const socket = this.createSocket()
    this.socket = socket
    this.ready = false
    this.lastErrorCode = null
    socket.onUnpackedMessage.addListener((frame: unknown) => this.handleFrame(socket, frame))
    socket.onClose.addListener((event: CloseEvent) => this.handleClose(socket, event))
    try {
      await socket.open()
    } catch {
      // Refused or unreachable. onClose may report it too; whichever comes first handles it.
      if (this.socket === socket) {
        this.socket = null
        socket.removeAllListeners()
        socket.close().catch(() => undefined)
        this.scheduleReconnect()
      }
      return
    }
    if (this.socket !== socket) return
    socket.sendPacked({ token })
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null
      if (this.socket === socket && !this.ready) {
        socket.close(HANDSHAKE_TIMEOUT_CLOSE, 'handshake timeout').catch(() => undefined)
      }
    }, this.options.handshakeTimeout ?? 15_000)
  }

  private handleFrame(socket: Socket, frame: unknown): void {
    if (socket !== this.socket) return
    if (typeof frame === 'object' && frame !== null) {
      const { state, code } = frame as { state?: unknown; code?: unknown }
      if (state === 'initialised') {
        this.ready = true
        this.authRetried = false
        this.backoff.reset()
        this.clearHandshakeTimer()
        this.startKeepAlive(socket)
        this.setStatus('online')
      } else if (state === 'error' && typeof code === 'string') {
        this.lastErrorCode = code
      }
    }
    this.options.onFrame(frame)
  }

  private handleClose(socket: Socket, event: CloseEvent): void {
    if (socket !== this.socket) return
    this.socket = null
    this.ready = false
    this.clearHandshakeTimer()
    this.stopKeepAlive()
    socket.removeAllListeners()
    if (!this.running) return

    if (event.code === CloseCode.tokenExpired) {
      void this.refreshThenReconnect()
    } else if (
      event.code === CloseCode.policyViolation &&
      this.lastErrorCode !== 'too_many_connections'
    ) {
      // The token was refused (at the handshake, or by reauth): one refresh, then give up.
      if (this.authRetried) {
        this.authFailed()
      } else {
        this.authRetried = true
        void this.refreshThenReconnect()
      }
    } else {
      this.scheduleReconnect()
    }
  }

  private async refreshThenReconnect(): Promise<void> {
    const generation = this.generation
    this.setStatus('reconnecting')
    let refreshed: boolean
    try {
      refreshed = await this.options.refresh()
    } catch {
      // The network, not the session: keep trying.
      if (generation === this.generation) this.scheduleReconnect()
      return
    }
    if (generation !== this.generation) return
    if (refreshed) this.scheduleReconnect()
    else this.authFailed()
  }

  private scheduleReconnect(): void {
    if (!this.running) return
    this.setStatus('reconnecting')
    const generation = this.generation
    const delay = this.backoff.next()
    this.reconnectTimer = setTimeout(() => void this.attempt(generation), delay)
  }

  private authFailed(): void {
    this.running = false
    this.generation += 1
    this.clearTimers()
    this.setStatus('offline')
    this.options.onAuthFailure?.()
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
  }

  /** A socket that stops answering (a sleeping phone, a dead NAT entry) may never fire close. */
  private startKeepAlive(socket: Socket): void {
    this.stopKeepAlive()
    const interval = this.options.keepAliveInterval ?? 25_000
    if (interval <= 0) return
    this.keepAliveTimer = setInterval(() => {
      if (this.socket !== socket || !this.ready) return
      this.request('ping', {}, { timeout: Math.min(interval, 10_000) }).catch((error: unknown) => {
        if (this.socket === socket && (error as { code?: unknown }).code === 'timeout') {
          socket.close(KEEPALIVE_TIMEOUT_CLOSE, 'keep-alive timeout').catch(() => undefined)
        }
      })
    }, interval)
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer)
    this.keepAliveTimer = null
  }

  private clearTimers(): void {
    this.stopKeepAlive()
    this.clearHandshakeTimer()
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.statusValue) return
    this.statusValue = status
    this.options.onStatus?.(status)
  }
}
