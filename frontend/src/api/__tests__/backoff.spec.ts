import { describe, expect, it } from 'vitest'

import { Backoff } from '../backoff'

describe('Backoff', () => {
  it('starts at 0.5 s and doubles up to 30 s', () => {
    const backoff = new Backoff({ random: () => 0.5 })
    const delays = Array.from({ length: 10 }, () => backoff.next())
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000])
  })

  it('moves each delay by up to ±20 % and never past 30 s', () => {
    const low = new Backoff({ random: () => 0 })
    const high = new Backoff({ random: () => 0.999999 })
    const lows = Array.from({ length: 8 }, () => low.next())
    const highs = Array.from({ length: 8 }, () => high.next())
    expect(lows).toEqual([400, 800, 1600, 3200, 6400, 12800, 24000, 24000])
    expect(highs).toEqual([600, 1200, 2400, 4800, 9600, 19200, 30000, 30000])
  })

  it('spreads delays with Math.random by default', () => {
    const backoff = new Backoff()
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const nominal = backoff.nominal()
      const delay = backoff.next()
      expect(delay).toBeGreaterThanOrEqual(nominal * 0.8)
      expect(delay).toBeLessThanOrEqual(Math.min(30000, nominal * 1.2))
    }
  })

  it('starts over after reset()', () => {
    const backoff = new Backoff({ random: () => 0.5 })
    backoff.next()
    backoff.next()
    expect(backoff.attempt).toBe(2)
    backoff.reset()
    expect(backoff.attempt).toBe(0)
    expect(backoff.next()).toBe(500)
  })
})
