/**
 * The signed-in user and the access token, kept in memory only. The refresh token lives in an
 * httpOnly cookie, so a reload restores the session with POST /login/refresh-token.
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import * as accounts from '@/api/accounts'
import type { SignupData } from '@/api/accounts'
import { ApiError } from '@/api/core'
import type { SocketUser, Tokens } from '@/interfaces'

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000
/** After a refresh that failed for lack of network, try again this much later. */
export const REFRESH_RETRY_MS = 10_000
/** A token with less life than this left is refreshed before it is handed out. */
export const MIN_TOKEN_LIFE_MS = 10_000
/** The Web Lock that lets only one tab refresh at a time (the cookie rotates on each refresh). */
export const REFRESH_LOCK = 'auth-refresh'

/** When to refresh a token that lives `expiresIn` seconds: a minute early, or halfway for short ones. */
export function refreshDelay(expiresIn: number): number {
  const lifetime = expiresIn * 1000
  return Math.max(lifetime - REFRESH_MARGIN_MS, lifetime / 2)
}

/** Runs `task` holding the named Web Lock, or directly where navigator.locks is absent. */
export async function withLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks: LockManager | undefined =
    typeof navigator !== 'undefined' && 'locks' in navigator ? navigator.locks : undefined
  if (locks && typeof locks.request === 'function') return locks.request(name, task)
  return task()
}

export const useAuthStore = defineStore('auth', () => {
  const accessToken = ref<string | null>(null)
  /** Epoch ms at which the access token expires. */
  const expiresAt = ref<number | null>(null)
  const user = ref<SocketUser | null>(null)
  const isAuthenticated = computed(() => accessToken.value !== null)

  let refreshTimer: ReturnType<typeof setTimeout> | null = null
  let refreshing: Promise<boolean> | null = null
  let restoring: Promise<void> | null = null

  function cancelRefresh(): void {
    if (refreshTimer !== null) clearTimeout(refreshTimer)
    refreshTimer = null
  }

  function scheduleRefresh(delay: number): void {
    cancelRefresh()
    refreshTimer = setTimeout(() => {
      refreshTimer = null
      refreshTokens().catch(() => scheduleRefresh(REFRESH_RETRY_MS))
    }, delay)
  }

  function setTokens(tokens: Tokens): void {
    accessToken.value = tokens.access_token
    expiresAt.value = Date.now() + tokens.expires_in * 1000
    scheduleRefresh(refreshDelay(tokens.expires_in))
  }

  function clearSession(): void {
    cancelRefresh()
    accessToken.value = null
    expiresAt.value = null
    user.value = null
  }

  /**
   * New tokens from the refresh cookie. Resolves true on success and false when the session is
   * gone (state cleared); rejects when the server could not be reached. One call in flight per
   * tab, one tab at a time.
   */
  function refreshTokens(): Promise<boolean> {
    refreshing ??= withLock(REFRESH_LOCK, async () => {
      try {
        setTokens(await accounts.refreshTokens())
        return true
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) {
          clearSession()
          return false
        }
        throw error
      }
    }).finally(() => {
      refreshing = null
    })
    return refreshing
  }

  /** A token with some life left, refreshing first if needed; null when signed out. */
  async function freshToken(): Promise<string | null> {
    if (accessToken.value === null) return null
    if (expiresAt.value !== null && expiresAt.value - Date.now() > MIN_TOKEN_LIFE_MS) {
      return accessToken.value
    }
    return (await refreshTokens()) ? accessToken.value : null
  }

  async function login(email: string, password: string): Promise<void> {
    const tokens = await accounts.login(email, password)
    setTokens(tokens)
    user.value = await accounts.me(tokens.access_token)
  }

  async function signup(data: SignupData): Promise<void> {
    await accounts.signup(data)
    await login(data.email, data.password)
  }

  /** Once per page load: turns the refresh cookie, if any, back into a session. */
  function restore(): Promise<void> {
    restoring ??= (async () => {
      try {
        if ((await refreshTokens()) && accessToken.value) {
          user.value = await accounts.me(accessToken.value)
        }
      } catch {
        // The backend is unreachable: start signed out.
      }
    })()
    return restoring
  }

  /** The socket's `initialised` names the user too; keep ours in step. */
  function rememberUser(socketUser: SocketUser): void {
    if (user.value === null || user.value.id === socketUser.id) {
      user.value = { ...user.value, ...socketUser }
    }
  }

  /** Revokes the session on the server (best effort) and forgets it here. */
  async function logout(): Promise<void> {
    const token = accessToken.value
    try {
      await accounts.logout(token)
    } catch {
      // Already revoked, or offline: forget it here all the same.
    } finally {
      clearSession()
    }
  }

  return {
    accessToken,
    expiresAt,
    user,
    isAuthenticated,
    login,
    signup,
    logout,
    restore,
    refreshTokens,
    freshToken,
    rememberUser,
  }
})
