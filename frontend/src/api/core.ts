/**
 * Where the backend lives, and a small fetch wrapper for its REST API.
 *
 * The API base is `${origin}/api/v1`, where origin is the page's own unless `VITE_API_URL`
 * names another; the socket URL is the ws(s) form of the API base plus `/socket`.
 */
import type { ErrorDetail } from '@/interfaces'

interface PageLocation {
  protocol: string
  host: string
}

/** `${origin}/api/v1`; `override` (VITE_API_URL) replaces the page's origin. */
export function apiBase(
  location: PageLocation = window.location,
  override: string | undefined = import.meta.env.VITE_API_URL,
): string {
  const origin = override?.trim()
    ? override.trim().replace(/\/+$/, '')
    : `${location.protocol}//${location.host}`
  return `${origin}/api/v1`
}

/** The ws:// or wss:// form of the API base. */
export function wsBase(base: string = apiBase()): string {
  return base.replace(/^http(s?):\/\//i, (_match, secure: string) => `ws${secure}://`)
}

export function socketUrl(base: string = apiBase()): string {
  return `${wsBase(base)}/socket`
}

/** A non-2xx answer from the REST API, with FastAPI's `detail` made readable. */
export class ApiError extends Error {
  override readonly name = 'ApiError'

  constructor(
    readonly status: number,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message)
  }
}

function isDetailList(value: unknown): value is ErrorDetail[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null)
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null
  try {
    body = await response.json()
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status text.
  }
  const detail =
    typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined
  if (typeof detail === 'string') return new ApiError(response.status, detail)
  if (isDetailList(detail)) {
    const message = detail.map((item) => item.msg).join(' ') || response.statusText
    return new ApiError(response.status, message, detail)
  }
  return new ApiError(response.status, response.statusText || `HTTP ${response.status}`)
}

export interface ApiRequest {
  method?: 'GET' | 'POST'
  json?: unknown
  form?: Record<string, string>
  token?: string | null
  /** Send and accept cookies (the refresh-token cookie). */
  withCredentials?: boolean
}

/** Calls `${apiBase()}${path}`; resolves with the parsed JSON (undefined for 204), throws ApiError. */
export async function apiFetch<T>(path: string, request: ApiRequest = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let body: string | URLSearchParams | undefined
  if (request.json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(request.json)
  } else if (request.form) {
    body = new URLSearchParams(request.form)
  }
  if (request.token) headers.Authorization = `Bearer ${request.token}`

  const response = await fetch(`${apiBase()}${path}`, {
    method: request.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    credentials: request.withCredentials ? 'include' : 'same-origin',
  })
  if (!response.ok) throw await errorFrom(response)
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}
