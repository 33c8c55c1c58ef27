/** The REST endpoints for accounts and sessions (docs/protocol.md, "REST"). */
import type { Tokens, User } from '@/interfaces'

import { apiFetch } from './core'

export interface SignupData {
  email: string
  password: string
  full_name: string
}

export function signup(data: SignupData): Promise<User> {
  return apiFetch<User>('/users/signup', { json: data })
}

/** Form-encoded, `username` is the email. Sets the refresh-token cookie. */
export function login(email: string, password: string): Promise<Tokens> {
  return apiFetch<Tokens>('/login/access-token', {
    form: { username: email, password },
    withCredentials: true,
  })
}

/** Trades the httpOnly refresh-token cookie for new tokens (and a new cookie). */
export function refreshTokens(): Promise<Tokens> {
  return apiFetch<Tokens>('/login/refresh-token', { method: 'POST', withCredentials: true })
}

export function logout(accessToken: string | null): Promise<void> {
  return apiFetch<void>('/logout', { method: 'POST', token: accessToken, withCredentials: true })
}

export function me(accessToken: string): Promise<User> {
  return apiFetch<User>('/users/me', { token: accessToken })
}
