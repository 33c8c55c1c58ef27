/**
 * A stand-in for the browser's WebSocket, installed with `vi.stubGlobal('WebSocket', ...)`.
 * The test plays the server: accept(), receive(frame), serverClose(code).
 */
export class FakeWebSocket extends EventTarget {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  static instances: FakeWebSocket[] = []

  static reset(): void {
    FakeWebSocket.instances = []
  }

  static last(): FakeWebSocket {
    const socket = FakeWebSocket.instances[FakeWebSocket.instances.length - 1]
    if (!socket) throw new Error('no WebSocket was created')
    return socket
  }

  readyState = FakeWebSocket.CONNECTING
  readonly sent: string[] = []
  closedWith: { code: number | undefined; reason: string | undefined } | null = null

  constructor(readonly url: string) {
    super()
    FakeWebSocket.instances.push(this)
  }

  /** Every frame the client sent, parsed. */
  get frames(): Record<string, unknown>[] {
    return this.sent.map((text) => JSON.parse(text) as Record<string, unknown>)
  }

  send(data: string): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('not open')
    this.sent.push(data)
  }

  /** The client closes: the close event follows as a browser would send it. */
  close(code?: number, reason?: string): void {
    if (this.readyState >= FakeWebSocket.CLOSING) return
    this.closedWith = { code, reason }
    this.readyState = FakeWebSocket.CLOSING
    queueMicrotask(() => this.serverClose(code ?? 1000, reason ?? ''))
  }

  // ---- the server's side ----

  accept(): void {
    this.readyState = FakeWebSocket.OPEN
    this.dispatchEvent(new Event('open'))
  }

  receive(frame: unknown): void {
    this.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(frame) }))
  }

  serverClose(code: number, reason = ''): void {
    if (this.readyState === FakeWebSocket.CLOSED) return
    this.readyState = FakeWebSocket.CLOSED
    const event = Object.assign(new Event('close'), { code, reason, wasClean: code !== 1006 })
    this.dispatchEvent(event)
  }

  /** The connection cannot be made (refused, no network). */
  fail(): void {
    this.dispatchEvent(new Event('error'))
    this.serverClose(1006)
  }
}
