/** Dates, names and grouping for the message list, in the user's own locale. */

/** Messages from one author closer together than this share one header. */
export const GROUP_GAP_MS = 5 * 60 * 1000

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' })
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' })
const dayThisYear = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  month: 'long',
  day: 'numeric',
})
const dayOtherYear = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' })
const relativeDay = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

/** The local calendar day, as a sortable key. */
export function dayKey(date: Date): string {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`
}

export function formatTime(date: Date): string {
  return timeFormat.format(date)
}

export function formatFull(date: Date): string {
  return fullFormat.format(date)
}

function capitalise(text: string): string {
  return text.charAt(0).toLocaleUpperCase() + text.slice(1)
}

/** "Today", "Yesterday", "Monday, May 6", or "May 6, 2023" for an older year. */
export function formatDay(date: Date, now: Date = new Date()): string {
  const midnight = (value: Date) => new Date(value.getFullYear(), value.getMonth(), value.getDate())
  const days = Math.round((midnight(date).getTime() - midnight(now).getTime()) / 86_400_000)
  if (days === 0 || days === -1) return capitalise(relativeDay.format(days, 'day'))
  return date.getFullYear() === now.getFullYear()
    ? dayThisYear.format(date)
    : dayOtherYear.format(date)
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  const first = parts[0]?.charAt(0) ?? '?'
  const last = parts.length > 1 ? (parts[parts.length - 1]?.charAt(0) ?? '') : ''
  return (first + last).toLocaleUpperCase()
}

/** A stable hue per user, for their avatar. */
export function avatarHue(userId: number): number {
  return (userId * 137) % 360
}

/** What the list shows for a confirmed, pending or failed message. */
export interface DisplayMessage {
  /** Stable across pending → confirmed (the client_id when there is one), so nothing flickers. */
  key: string
  id: number | null
  clientId: string | null
  userId: number
  author: string
  text: string
  date: Date
  status: 'sent' | 'pending' | 'failed'
  error: string | null
}

export type Row =
  | { kind: 'day'; key: string; label: string }
  | { kind: 'message'; key: string; message: DisplayMessage; first: boolean }

/** Day dividers, and a header only where the author, the day or a long pause changes. */
export function buildRows(messages: readonly DisplayMessage[], now: Date = new Date()): Row[] {
  const rows: Row[] = []
  let previous: DisplayMessage | null = null
  for (const message of messages) {
    const day = dayKey(message.date)
    const newDay = !previous || dayKey(previous.date) !== day
    if (newDay) rows.push({ kind: 'day', key: `day:${day}`, label: formatDay(message.date, now) })
    const first =
      newDay ||
      previous?.userId !== message.userId ||
      message.date.getTime() - (previous?.date.getTime() ?? 0) > GROUP_GAP_MS
    rows.push({ kind: 'message', key: message.key, message, first })
    previous = message
  }
  return rows
}
