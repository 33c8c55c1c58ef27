import { afterEach, describe, expect, it, vi } from 'vitest'

import { ApiError, apiBase, apiFetch, socketUrl, wsBase } from '../core'

describe('URLs', () => {
  it('derive from the page location', () => {
    const http = { protocol: 'http:', host: 'localhost:5173' }
    expect(apiBase(http, undefined)).toBe('http://localhost:5173/api/v1')
    expect(socketUrl(apiBase(http, undefined))).toBe('ws://localhost:5173/api/v1/socket')

    const https = { protocol: 'https:', host: 'chat.example.com' }
    expect(apiBase(https, '')).toBe('https://chat.example.com/api/v1')
    expect(socketUrl(apiBase(https, ''))).toBe('wss://chat.example.com/api/v1/socket')
  })

  it('take the origin from VITE_API_URL when it is set', () => {
    const page = { protocol: 'http:', host: 'localhost:5173' }
    expect(apiBase(page, 'https://api.example.com/')).toBe('https://api.example.com/api/v1')
    expect(wsBase('https://api.example.com/api/v1')).toBe('wss://api.example.com/api/v1')
    expect(wsBase('http://127.0.0.1:8000/api/v1')).toBe('ws://127.0.0.1:8000/api/v1')
  })

  it('default to the jsdom page', () => {
    expect(apiBase()).toBe(`${window.location.origin}/api/v1`)
  })
})

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

describe('apiFetch', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('sends JSON, a bearer token and cookies when asked', async () => {
    const fetch = vi.fn(() => Promise.resolve(jsonResponse(200, { ok: true })))
    vi.stubGlobal('fetch', fetch)
    await expect(
      apiFetch('/things', { json: { a: 1 }, token: 'tok', withCredentials: true }),
    ).resolves.toEqual({ ok: true })
    expect(fetch).toHaveBeenCalledWith(`${window.location.origin}/api/v1/things`, {
      method: 'POST',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        Authorization: 'Bearer tok',
      },
      body: '{"a":1}',
      credentials: 'include',
    })
  })

  it('form-encodes a form body', async () => {
    const fetch = vi.fn((_url: string, _init: RequestInit) =>
      Promise.resolve(jsonResponse(200, {})),
    )
    vi.stubGlobal('fetch', fetch)
    await apiFetch('/login/access-token', { form: { username: 'a@b.c', password: 'p w' } })
    const body = fetch.mock.calls[0]?.[1].body
    expect(body).toBeInstanceOf(URLSearchParams)
    expect((body as URLSearchParams).toString()).toBe('username=a%40b.c&password=p+w')
  })

  it('resolves undefined for 204', async () => {
    vi.stubGlobal('fetch', () => Promise.resolve(new Response(null, { status: 204 })))
    await expect(apiFetch('/logout', { method: 'POST' })).resolves.toBeUndefined()
  })

  it("throws ApiError with FastAPI's detail", async () => {
    vi.stubGlobal('fetch', () =>
      Promise.resolve(jsonResponse(401, { detail: 'Incorrect email or password.' })),
    )
    const error: unknown = await apiFetch('/x').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 401, message: 'Incorrect email or password.' })
  })

  it('joins the messages of a 422 detail list', async () => {
    const detail = [
      { loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' },
      {
        loc: ['body', 'password'],
        msg: 'String should have at least 8 characters',
        type: 'too_short',
      },
    ]
    vi.stubGlobal('fetch', () => Promise.resolve(jsonResponse(422, { detail })))
    await expect(apiFetch('/x')).rejects.toMatchObject({
      status: 422,
      message: 'value is not a valid email address String should have at least 8 characters',
      details: detail,
    })
  })

  it('copes with an error that is not JSON', async () => {
    vi.stubGlobal('fetch', () =>
      Promise.resolve(
        new Response('<h1>Bad gateway</h1>', { status: 502, statusText: 'Bad Gateway' }),
      ),
    )
    await expect(apiFetch('/x')).rejects.toMatchObject({ status: 502, message: 'Bad Gateway' })
  })
})
