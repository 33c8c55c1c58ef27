import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { REFRESH_LOCK, refreshDelay, useAuthStore, withLock } from '../auth'

const API = `${window.location.origin}/api/v1`
const USER = {
  id: 1,
  email: 'ada@example.com',
  full_name: 'Ada Lovelace',
  is_active: true,
  is_superuser: false,
  created_at: '2024-01-01T00:00:00Z',
}

function tokens(n: number, expiresIn = 900) {
  return {
    access_token: `access-${n}`,
    refresh_token: `refresh-${n}`,
    token_type: 'bearer',
    expires_in: expiresIn,
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

/** A fake backend: hands out numbered tokens and records every call. */
function fakeBackend(options: { expiresIn?: number; refreshStatus?: number } = {}) {
  let issued = 0
  const calls: { path: string; init: RequestInit }[] = []
  const fetch = vi.fn((url: string, init: RequestInit = {}) => {
    const path = url.replace(API, '')
    calls.push({ path, init })
    switch (path) {
      case '/login/access-token':
        return Promise.resolve(json(200, tokens(++issued, options.expiresIn)))
      case '/login/refresh-token':
        if (options.refreshStatus && options.refreshStatus !== 200) {
          return Promise.resolve(json(options.refreshStatus, { detail: 'Invalid refresh token.' }))
        }
        return Promise.resolve(json(200, tokens(++issued, options.expiresIn)))
      case '/users/me':
        return Promise.resolve(json(200, USER))
      case '/users/signup':
        return Promise.resolve(json(201, USER))
      case '/logout':
        return Promise.resolve(new Response(null, { status: 204 }))
      default:
        return Promise.resolve(json(404, { detail: 'Not Found' }))
    }
  })
  vi.stubGlobal('fetch', fetch)
  const refreshes = () => calls.filter((call) => call.path === '/login/refresh-token')
  return { fetch, calls, refreshes }
}

describe('refreshDelay', () => {
  it('is a minute before expiry, or halfway for short-lived tokens', () => {
    expect(refreshDelay(900)).toBe(840_000)
    expect(refreshDelay(3600)).toBe(3_540_000)
    expect(refreshDelay(60)).toBe(30_000)
    expect(refreshDelay(100)).toBe(50_000)
  })
})

describe('auth store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
    // jsdom has no Web Locks; each test opts in.
    vi.stubGlobal('navigator', { ...navigator, locks: undefined })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('logs in with a form-encoded body and keeps the token in memory only', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'correct horse')

    const login = backend.calls[0]
    expect(login?.path).toBe('/login/access-token')
    expect(login?.init.credentials).toBe('include')
    expect((login?.init.body as URLSearchParams).toString()).toBe(
      'username=ada%40example.com&password=correct+horse',
    )
    expect(backend.calls[1]?.path).toBe('/users/me')
    expect(backend.calls[1]?.init.headers).toMatchObject({ Authorization: 'Bearer access-1' })

    expect(auth.isAuthenticated).toBe(true)
    expect(auth.accessToken).toBe('access-1')
    expect(auth.user?.email).toBe('ada@example.com')
    expect(localStorage.length).toBe(0)
    expect(sessionStorage.length).toBe(0)
  })

  it('signs up, then logs in', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    await auth.signup({ email: 'ada@example.com', password: 'longenough', full_name: 'Ada' })
    expect(backend.calls.map((call) => call.path)).toEqual([
      '/users/signup',
      '/login/access-token',
      '/users/me',
    ])
    expect(JSON.parse(backend.calls[0]?.init.body as string)).toEqual({
      email: 'ada@example.com',
      password: 'longenough',
      full_name: 'Ada',
    })
    expect(auth.isAuthenticated).toBe(true)
  })

  it('refreshes 60 s before the access token expires, and again after each refresh', async () => {
    const backend = fakeBackend({ expiresIn: 900 })
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'pw')

    await vi.advanceTimersByTimeAsync(840_000 - 1)
    expect(backend.refreshes()).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(backend.refreshes()).toHaveLength(1)
    expect(backend.refreshes()[0]?.init.credentials).toBe('include')
    expect(backend.refreshes()[0]?.init.method).toBe('POST')
    expect(auth.accessToken).toBe('access-2')

    await vi.advanceTimersByTimeAsync(840_000)
    expect(backend.refreshes()).toHaveLength(2)
    expect(auth.accessToken).toBe('access-3')
  })

  it('has a single refresh in flight however often it is asked', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    const results = await Promise.all([
      auth.refreshTokens(),
      auth.refreshTokens(),
      auth.refreshTokens(),
    ])
    expect(results).toEqual([true, true, true])
    expect(backend.refreshes()).toHaveLength(1)
    // Once settled, a new call refreshes again.
    await auth.refreshTokens()
    expect(backend.refreshes()).toHaveLength(2)
  })

  it('takes the "auth-refresh" Web Lock, so only one tab refreshes at a time', async () => {
    let held = false
    let overlaps = 0
    const request = vi.fn(async (name: string, task: () => Promise<unknown>) => {
      while (held) await new Promise((resolve) => setTimeout(resolve, 1))
      held = true
      try {
        return await task()
      } finally {
        held = false
      }
    })
    vi.stubGlobal('navigator', { ...navigator, locks: { request } })

    let inFlight = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        inFlight += 1
        if (inFlight > 1) overlaps += 1
        await new Promise((resolve) => setTimeout(resolve, 50))
        inFlight -= 1
        return json(200, tokens(1))
      }),
    )

    // Two tabs: two Pinia instances sharing one browser (and one lock manager).
    const tabA = useAuthStore(createPinia())
    const tabB = useAuthStore(createPinia())
    const both = Promise.all([tabA.refreshTokens(), tabB.refreshTokens()])
    await vi.advanceTimersByTimeAsync(200)
    await expect(both).resolves.toEqual([true, true])

    expect(request).toHaveBeenCalledTimes(2)
    expect(request.mock.calls.every(([name]) => name === REFRESH_LOCK)).toBe(true)
    expect(overlaps).toBe(0)
  })

  it('falls back to refreshing directly where navigator.locks is absent', async () => {
    const ran = await withLock('x', () => Promise.resolve('ran'))
    expect(ran).toBe('ran')
    const backend = fakeBackend()
    await expect(useAuthStore().refreshTokens()).resolves.toBe(true)
    expect(backend.refreshes()).toHaveLength(1)
  })

  it('restores the session on reload from the refresh cookie', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    await auth.restore()
    await auth.restore() // once per page load
    expect(backend.calls.map((call) => call.path)).toEqual(['/login/refresh-token', '/users/me'])
    expect(auth.isAuthenticated).toBe(true)
    expect(auth.user?.full_name).toBe('Ada Lovelace')
  })

  it('stays signed out when there is no valid cookie', async () => {
    fakeBackend({ refreshStatus: 401 })
    const auth = useAuthStore()
    await auth.restore()
    expect(auth.isAuthenticated).toBe(false)
    expect(auth.user).toBeNull()
  })

  it('forgets the session when a refresh is refused', async () => {
    const backend = fakeBackend({ expiresIn: 900 })
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'pw')
    backend.fetch.mockImplementation(() => Promise.resolve(json(401, { detail: 'Revoked.' })))
    await expect(auth.refreshTokens()).resolves.toBe(false)
    expect(auth.accessToken).toBeNull()
    expect(auth.user).toBeNull()
  })

  it('retries a refresh that could not reach the server, keeping the session', async () => {
    const backend = fakeBackend({ expiresIn: 900 })
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'pw')
    backend.fetch.mockImplementationOnce(() => Promise.reject(new TypeError('Failed to fetch')))
    await vi.advanceTimersByTimeAsync(840_000)
    expect(auth.accessToken).toBe('access-1')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(auth.accessToken).toBe('access-2')
  })

  it('freshToken() refreshes a token close to expiry first', async () => {
    const backend = fakeBackend({ expiresIn: 900 })
    const auth = useAuthStore()
    expect(await auth.freshToken()).toBeNull()
    await auth.login('ada@example.com', 'pw')
    expect(await auth.freshToken()).toBe('access-1')
    vi.setSystemTime(Date.now() + 895_000) // the timer did not fire (a sleeping laptop)
    expect(await auth.freshToken()).toBe('access-2')
    expect(backend.refreshes()).toHaveLength(1)
  })

  it('logs out with the bearer token and the cookie, then forgets everything', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'pw')
    await auth.logout()
    const logout = backend.calls.find((call) => call.path === '/logout')
    expect(logout?.init.method).toBe('POST')
    expect(logout?.init.credentials).toBe('include')
    expect(logout?.init.headers).toMatchObject({ Authorization: 'Bearer access-1' })
    expect(auth.isAuthenticated).toBe(false)
    expect(auth.user).toBeNull()
    // No refresh is left scheduled.
    await vi.advanceTimersByTimeAsync(3_600_000)
    expect(backend.refreshes()).toHaveLength(0)
  })

  it('logs out locally even when the server cannot be reached', async () => {
    const backend = fakeBackend()
    const auth = useAuthStore()
    await auth.login('ada@example.com', 'pw')
    backend.fetch.mockImplementation(() => Promise.reject(new TypeError('Failed to fetch')))
    await auth.logout()
    expect(auth.isAuthenticated).toBe(false)
  })
})
