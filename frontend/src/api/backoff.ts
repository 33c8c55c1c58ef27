/**
 * Exponential backoff with jitter: 0.5 s, 1 s, 2 s, … up to 30 s, each delay moved by up to
 * ±`jitter` of itself (and never past `max`), so that clients dropped together do not all
 * come back in the same instant.
 */
export interface BackoffOptions {
  /** First delay, in ms. */
  base?: number
  /** Largest delay, in ms. */
  max?: number
  factor?: number
  /** Fraction of the delay that is random, 0..1. */
  jitter?: number
  /** 0 <= random() < 1; injectable for tests. */
  random?: () => number
}

export class Backoff {
  readonly base: number
  readonly max: number
  readonly factor: number
  readonly jitter: number
  private readonly random: () => number
  private attempts = 0

  constructor(options: BackoffOptions = {}) {
    this.base = options.base ?? 500
    this.max = options.max ?? 30_000
    this.factor = options.factor ?? 2
    this.jitter = options.jitter ?? 0.2
    this.random = options.random ?? Math.random
  }

  /** How many delays were handed out since the last reset. */
  get attempt(): number {
    return this.attempts
  }

  /** The delay without jitter for the given attempt. */
  nominal(attempt: number = this.attempts): number {
    return Math.min(this.max, this.base * this.factor ** attempt)
  }

  /** The next delay, in ms. */
  next(): number {
    const nominal = this.nominal()
    this.attempts += 1
    const spread = nominal * this.jitter * (this.random() * 2 - 1)
    return Math.round(Math.min(this.max, Math.max(0, nominal + spread)))
  }

  /** After a successful connect: the next delay is `base` again. */
  reset(): void {
    this.attempts = 0
  }
}
