import type { RouteLocationRaw } from 'vue-router'

/** Where to go after logging in: the `redirect` query if it is a path on this site, else the chat. */
export function safeRedirect(value: unknown): RouteLocationRaw {
  if (
    typeof value === 'string' &&
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !value.startsWith('/\\')
  ) {
    return value
  }
  return { name: 'chat' }
}
