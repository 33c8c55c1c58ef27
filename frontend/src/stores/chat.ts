/**
 * Rooms, messages, presence and typing: the chat feature's state.
 *
 * Each room's messages are unique by id and sorted by seq, whatever order frames arrive in, so
 * a resume (`joinRoom {room, since}`) neither loses nor repeats a message. Messages being sent
 * live apart, in `pending`, until the server's copy (matched by `client_id`) replaces them.
 *
 * Data comes in two ways: the handler table applies every reply and event (src/features/chat/
 * handlers.ts), and an action that awaited a reply applies it at once too, with the context
 * only it knows (which room a `history` page is for, whether a join was a resume). Every apply
 * is idempotent, so the second one changes nothing.
 */
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

import { SocketRequestError } from '@/api/request'
import type { ChatUser, Message, Replies, Room } from '@/interfaces'

import { useAuthStore } from './auth'
import { useConnectionStore } from './connection'

export const MAX_MESSAGE_LENGTH = 4000
export const HISTORY_PAGE = 50
/** Send `typing` at most this often while the user types. */
export const TYPING_SEND_INTERVAL_MS = 2000
/** Show "X is typing…" this long after their last `typing` event. */
export const TYPING_SHOW_MS = 4000
/** Send `markRead` at most this often per room (the last call in a burst still goes out). */
export const MARK_READ_INTERVAL_MS = 1000
/** Resume gap filling: pages of `history` at most, per room. */
export const MAX_GAP_PAGES = 20

export type PendingStatus = 'pending' | 'failed'

/** Request failures that say nothing about the message, only about the connection. */
const CONNECTION_FAILURES: ReadonlySet<string> = new Set([
  'not_connected',
  'connection_lost',
  'timeout',
])

/** A message on its way: shown at once, replaced by the server's copy when that arrives. */
export interface PendingMessage {
  client_id: string
  room: number
  text: string
  user: ChatUser
  created_at: string
  status: PendingStatus
  error: string | null
  /**
   * The connection failed under it (not a refusal by the server): it stays `pending` and is
   * sent again, with the same `client_id`, as soon as the session is back.
   */
  queued: boolean
}

export interface TypingUser {
  user: ChatUser
  until: number
}

/** crypto.randomUUID where it exists (secure contexts); a random v4 UUID otherwise. */
export function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Index at which a message with `seq` belongs in a list sorted by seq. */
function insertionIndex(list: readonly Message[], seq: number): number {
  let low = 0
  let high = list.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if ((list[mid]?.seq ?? 0) < seq) low = mid + 1
    else high = mid
  }
  return low
}

export const useChatStore = defineStore('chat', () => {
  const auth = useAuthStore()
  const connection = useConnectionStore()

  const rooms = ref<Room[]>([])
  const roomsLoaded = ref(false)
  const currentRoomId = ref<number | null>(null)
  /** Per room: messages sorted by seq, unique by id. */
  const messages = ref<Record<number, Message[]>>({})
  /** Per room: messages sent but not yet confirmed (or failed). */
  const pending = ref<Record<number, PendingMessage[]>>({})
  /** Per room: whether older messages exist than the lowest held. */
  const hasMore = ref<Record<number, boolean>>({})
  const loadingHistory = ref<Record<number, boolean>>({})
  const online = ref<Record<number, ChatUser[]>>({})
  const typing = ref<Record<number, TypingUser[]>>({})

  // Private bookkeeping.
  const heldIds = new Map<number, Set<number>>()
  const typingTimers = new Map<string, ReturnType<typeof setTimeout>>()
  const lastTypingSent = new Map<number, number>()
  const lastMarkedSeq = new Map<number, number>()
  const lastMarkReadAt = new Map<number, number>()
  const markReadTimers = new Map<number, ReturnType<typeof setTimeout>>()

  const me = computed<ChatUser | null>(() =>
    auth.user ? { id: auth.user.id, full_name: auth.user.full_name } : null,
  )
  const currentRoom = computed(() => roomById(currentRoomId.value))
  const joinedRooms = computed(() => rooms.value.filter((room) => room.joined))
  const otherRooms = computed(() => rooms.value.filter((room) => !room.joined))
  const currentMessages = computed(() =>
    currentRoomId.value === null ? [] : (messages.value[currentRoomId.value] ?? []),
  )
  const currentPending = computed(() =>
    currentRoomId.value === null ? [] : (pending.value[currentRoomId.value] ?? []),
  )
  const currentOnline = computed(() =>
    currentRoomId.value === null ? [] : (online.value[currentRoomId.value] ?? []),
  )
  const currentTyping = computed(() =>
    currentRoomId.value === null
      ? []
      : (typing.value[currentRoomId.value] ?? []).map((t) => t.user),
  )

  function roomById(id: number | null): Room | null {
    return id === null ? null : (rooms.value.find((room) => room.id === id) ?? null)
  }

  /** The highest seq held for a room: what a resume asks to continue from. */
  function highestSeq(roomId: number): number | null {
    const list = messages.value[roomId]
    return list?.length ? (list[list.length - 1]?.seq ?? null) : null
  }

  /**
   * Where a resume starts: the highest seq up to which every message is held. Live events from
   * different server processes can arrive out of seq order, so the highest seq held may sit
   * above a hole; resuming from it would skip the missing message for good.
   */
  function resumeSeq(roomId: number): number | null {
    const list = messages.value[roomId]
    if (!list?.length) return null
    let seq = list[0]?.seq ?? 0
    for (const message of list) {
      if (message.seq > seq + 1) break
      seq = message.seq
    }
    return seq
  }

  function lowestSeq(roomId: number): number | null {
    return messages.value[roomId]?.[0]?.seq ?? null
  }

  // ---- applying data (idempotent) -------------------------------------------------------

  function setRooms(list: Room[]): void {
    rooms.value = list.map((room) => ({ ...room }))
    roomsLoaded.value = true
  }

  function upsertRoom(room: Room): void {
    const index = rooms.value.findIndex((known) => known.id === room.id)
    if (index === -1) rooms.value.push({ ...room })
    else rooms.value[index] = { ...room }
  }

  function removePending(roomId: number, clientId: string): void {
    const list = pending.value[roomId]
    if (!list) return
    const index = list.findIndex((entry) => entry.client_id === clientId)
    if (index !== -1) list.splice(index, 1)
  }

  /** Adds messages not held yet, in seq order; returns how many were new. */
  function mergeMessages(roomId: number, incoming: readonly Message[]): number {
    let ids = heldIds.get(roomId)
    if (!ids) {
      ids = new Set()
      heldIds.set(roomId, ids)
    }
    const list = (messages.value[roomId] ??= [])
    let added = 0
    for (const message of incoming) {
      if (message.client_id) removePending(roomId, message.client_id)
      if (ids.has(message.id)) continue
      ids.add(message.id)
      const last = list[list.length - 1]
      if (!last || last.seq < message.seq) list.push(message)
      else list.splice(insertionIndex(list, message.seq), 0, message)
      added += 1
    }
    const room = roomById(roomId)
    const top = highestSeq(roomId)
    if (room && top !== null && top > room.last_seq) room.last_seq = top
    return added
  }

  /** The context-free part of a `joinRoom` reply. */
  function applyJoinReply(reply: Replies['joinRoom']): void {
    const roomId = reply.room.id
    upsertRoom({ ...reply.room, joined: true })
    setOnline(roomId, reply.online)
    mergeMessages(roomId, reply.messages)
  }

  function applyLeave(roomId: number): void {
    const room = roomById(roomId)
    if (room) room.joined = false
    for (const table of [messages, pending, hasMore, loadingHistory, online, typing]) {
      delete table.value[roomId]
    }
    heldIds.delete(roomId)
    lastMarkedSeq.delete(roomId)
    lastMarkReadAt.delete(roomId)
    const timer = markReadTimers.get(roomId)
    if (timer !== undefined) clearTimeout(timer)
    markReadTimers.delete(roomId)
    if (currentRoomId.value === roomId) currentRoomId.value = null
  }

  function setOnline(roomId: number, users: ChatUser[]): void {
    online.value[roomId] = [...users]
    const room = roomById(roomId)
    if (room) room.online_count = users.length
  }

  /** A new member (who, joining from a live connection, is online too). */
  function userJoined(roomId: number, user: ChatUser): void {
    const room = roomById(roomId)
    if (room && user.id !== me.value?.id) room.member_count += 1
    const list = online.value[roomId] ?? []
    if (!list.some((known) => known.id === user.id)) setOnline(roomId, [...list, user])
  }

  /** A member left the room (on all their connections). */
  function userLeft(roomId: number, user: ChatUser): void {
    const room = roomById(roomId)
    if (room && user.id !== me.value?.id) room.member_count = Math.max(0, room.member_count - 1)
    const list = online.value[roomId]
    if (list)
      setOnline(
        roomId,
        list.filter((known) => known.id !== user.id),
      )
    clearTyping(roomId, user.id)
  }

  function setUnread(roomId: number, unread: number): void {
    const room = roomById(roomId)
    if (room) room.unread = unread
  }

  /** A `message` event or a `sendMessage` reply. */
  function receiveMessage(message: Message): void {
    const added = mergeMessages(message.room, [message])
    if (!added) return
    clearTyping(message.room, message.user.id)
    const room = roomById(message.room)
    if (room && message.user.id !== me.value?.id && message.room !== currentRoomId.value) {
      room.unread += 1
    }
  }

  function clearTyping(roomId: number, userId: number): void {
    const key = `${roomId}:${userId}`
    const timer = typingTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    typingTimers.delete(key)
    const list = typing.value[roomId]
    if (list) typing.value[roomId] = list.filter((entry) => entry.user.id !== userId)
  }

  function userTyping(roomId: number, user: ChatUser): void {
    if (user.id === me.value?.id) return
    const key = `${roomId}:${user.id}`
    const others = (typing.value[roomId] ?? []).filter((entry) => entry.user.id !== user.id)
    typing.value[roomId] = [...others, { user, until: Date.now() + TYPING_SHOW_MS }]
    const timer = typingTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    typingTimers.set(
      key,
      setTimeout(() => clearTyping(roomId, user.id), TYPING_SHOW_MS),
    )
  }

  // ---- actions ---------------------------------------------------------------------------

  /** After each handshake: fetch the rooms, then (re)join every joined room from where we are. */
  async function resume(): Promise<void> {
    try {
      setRooms((await connection.request('listRooms', {})).rooms)
    } catch {
      return // An error frame has been toasted; a dropped socket runs resume again.
    }
    await Promise.all(joinedRooms.value.map((room) => joinRoom(room.id)))
    await redeliverQueued()
  }

  /**
   * Sends again, in the order they were typed, the messages whose connection failed under
   * them. The same `client_id` makes the server answer with its stored copy when the first
   * try had in fact been stored (its reply lost in a crash), so nothing is shown twice or lost.
   */
  async function redeliverQueued(): Promise<void> {
    for (const [roomId, entries] of Object.entries(pending.value)) {
      for (const entry of [...entries]) {
        if (entry.queued && connection.status === 'online')
          await deliver(Number(roomId), entry.client_id)
      }
    }
  }

  /**
   * Joins a room, or re-joins it after a reconnect with `since` = the highest seq up to which
   * every message is held (`resumeSeq`), so only what was missed comes back. If the reply
   * shows a gap, `history` pages fill it.
   */
  async function joinRoom(roomId: number): Promise<void> {
    const since = resumeSeq(roomId)
    let reply: Replies['joinRoom']
    try {
      reply = await connection.request(
        'joinRoom',
        since === null ? { room: roomId } : { room: roomId, since },
      )
    } catch {
      return
    }
    applyJoinReply(reply)
    if (since === null) {
      hasMore.value[roomId] = reply.has_more
      return
    }
    // A resume reply may not carry everything missed (the server caps it): fill the gap.
    const top = highestSeq(roomId) ?? since
    if (top < reply.last_seq) {
      await fillGap(roomId, top, reply.last_seq)
    } else if (reply.has_more && reply.messages.length > 0) {
      const lowest = Math.min(...reply.messages.map((message) => message.seq))
      if (lowest > since + 1) await fillGap(roomId, since, lowest - 1)
    }
  }

  /** Pages back through `history` from `toSeq` (included) down to `fromSeq` (held). */
  async function fillGap(roomId: number, fromSeq: number, toSeq: number): Promise<void> {
    let before = toSeq + 1
    for (let page = 0; page < MAX_GAP_PAGES; page += 1) {
      let reply: Replies['history']
      try {
        reply = await connection.request('history', { room: roomId, before, limit: 100 })
      } catch {
        return
      }
      mergeMessages(roomId, reply.messages)
      const lowest = Math.min(...reply.messages.map((message) => message.seq))
      if (!reply.has_more || !Number.isFinite(lowest) || lowest <= fromSeq + 1) return
      before = lowest
    }
  }

  /** Infinite scroll: the page before the lowest seq held. */
  async function loadOlder(roomId: number | null = currentRoomId.value): Promise<void> {
    if (roomId === null || loadingHistory.value[roomId] || hasMore.value[roomId] === false) return
    const before = lowestSeq(roomId)
    loadingHistory.value[roomId] = true
    try {
      const reply = await connection.request(
        'history',
        before === null
          ? { room: roomId, limit: HISTORY_PAGE }
          : { room: roomId, before, limit: HISTORY_PAGE },
      )
      mergeMessages(roomId, reply.messages)
      hasMore.value[roomId] = reply.has_more
    } catch {
      // Toasted by the error handler, or the socket dropped; the user can scroll again.
    } finally {
      loadingHistory.value[roomId] = false
    }
  }

  async function leaveRoom(roomId: number): Promise<void> {
    await connection.request('leaveRoom', { room: roomId })
    applyLeave(roomId)
  }

  /** Creates a room and joins it; throws (after the error toast) when the name is taken. */
  async function createRoom(name: string, topic?: string): Promise<Room> {
    const { room } = await connection.request(
      'createRoom',
      topic?.trim() ? { name: name.trim(), topic: topic.trim() } : { name: name.trim() },
    )
    upsertRoom(room)
    await joinRoom(room.id)
    return roomById(room.id) ?? room
  }

  /** Opens a room: joins it first if needed, and marks what is shown as read. */
  async function selectRoom(roomId: number | null): Promise<void> {
    currentRoomId.value = roomId
    if (roomId === null) return
    const room = roomById(roomId)
    if (room && !room.joined && connection.status === 'online') await joinRoom(roomId)
    markRead(roomId)
  }

  function findPending(roomId: number, clientId: string): PendingMessage | undefined {
    return pending.value[roomId]?.find((entry) => entry.client_id === clientId)
  }

  async function deliver(roomId: number, clientId: string): Promise<void> {
    const entry = findPending(roomId, clientId)
    if (!entry) return
    entry.status = 'pending'
    entry.error = null
    entry.queued = false
    try {
      const reply = await connection.request('sendMessage', {
        room: roomId,
        text: entry.text,
        client_id: clientId,
      })
      mergeMessages(roomId, [reply.message])
      removePending(roomId, clientId)
    } catch (error) {
      const unsent = findPending(roomId, clientId)
      if (!unsent) return
      if (error instanceof SocketRequestError && CONNECTION_FAILURES.has(error.code)) {
        unsent.queued = true // still on its way: resume() sends it again
        return
      }
      unsent.status = 'failed'
      unsent.error = error instanceof Error ? error.message : String(error)
    }
  }

  /** Shows the message at once, then sends it with a fresh `client_id`. */
  async function sendMessage(
    text: string,
    roomId: number | null = currentRoomId.value,
  ): Promise<void> {
    const trimmed = text.trim()
    if (roomId === null || !trimmed || trimmed.length > MAX_MESSAGE_LENGTH || !me.value) return
    const clientId = newClientId()
    ;(pending.value[roomId] ??= []).push({
      client_id: clientId,
      room: roomId,
      text: trimmed,
      user: me.value,
      created_at: new Date().toISOString(),
      status: 'pending',
      error: null,
      queued: false,
    })
    await deliver(roomId, clientId)
  }

  /** Sends a failed message again with the SAME client_id, so the server can spot a repeat. */
  async function retry(roomId: number, clientId: string): Promise<void> {
    if (findPending(roomId, clientId)?.status !== 'failed') return
    await deliver(roomId, clientId)
  }

  function discard(roomId: number, clientId: string): void {
    removePending(roomId, clientId)
  }

  /** Called on input: sends `typing` at most every TYPING_SEND_INTERVAL_MS per room. */
  function notifyTyping(roomId: number | null = currentRoomId.value): void {
    if (roomId === null || connection.status !== 'online') return
    const now = Date.now()
    const last = lastTypingSent.get(roomId)
    if (last !== undefined && now - last < TYPING_SEND_INTERVAL_MS) return
    lastTypingSent.set(roomId, now)
    connection.request('typing', { room: roomId }).catch(() => undefined)
  }

  /**
   * Tells the server everything up to the highest seq held has been seen: at once, or (within
   * MARK_READ_INTERVAL_MS of the last one) a little later with whatever is highest by then.
   */
  function markRead(roomId: number | null = currentRoomId.value): void {
    if (roomId === null) return
    const room = roomById(roomId)
    const seq = highestSeq(roomId)
    if (!room?.joined || seq === null || connection.status !== 'online') return
    if ((lastMarkedSeq.get(roomId) ?? -1) >= seq && room.unread === 0) return
    room.unread = 0
    if (markReadTimers.has(roomId)) return
    const wait = (lastMarkReadAt.get(roomId) ?? -Infinity) + MARK_READ_INTERVAL_MS - Date.now()
    if (wait > 0) {
      markReadTimers.set(
        roomId,
        setTimeout(() => {
          markReadTimers.delete(roomId)
          sendMarkRead(roomId)
        }, wait),
      )
    } else {
      sendMarkRead(roomId)
    }
  }

  function sendMarkRead(roomId: number): void {
    const seq = highestSeq(roomId)
    if (seq === null || connection.status !== 'online') return
    lastMarkedSeq.set(roomId, seq)
    lastMarkReadAt.set(roomId, Date.now())
    connection
      .request('markRead', { room: roomId, seq })
      .then((reply) => {
        // Only the answer to the newest markRead says how many are left unread.
        if (lastMarkedSeq.get(roomId) === seq) setUnread(reply.room, reply.unread)
      })
      .catch(() => lastMarkedSeq.delete(roomId))
  }

  function reset(): void {
    for (const timer of [...typingTimers.values(), ...markReadTimers.values()]) clearTimeout(timer)
    typingTimers.clear()
    markReadTimers.clear()
    lastMarkReadAt.clear()
    heldIds.clear()
    lastTypingSent.clear()
    lastMarkedSeq.clear()
    rooms.value = []
    roomsLoaded.value = false
    currentRoomId.value = null
    messages.value = {}
    pending.value = {}
    hasMore.value = {}
    loadingHistory.value = {}
    online.value = {}
    typing.value = {}
  }

  // Another user (or none) means none of this state is ours any more.
  watch(
    () => auth.user?.id ?? null,
    (id, previous) => {
      if (id !== previous && previous !== null) reset()
    },
  )

  return {
    rooms,
    roomsLoaded,
    currentRoomId,
    messages,
    pending,
    hasMore,
    loadingHistory,
    online,
    typing,
    me,
    currentRoom,
    joinedRooms,
    otherRooms,
    currentMessages,
    currentPending,
    currentOnline,
    currentTyping,
    roomById,
    highestSeq,
    lowestSeq,
    setRooms,
    upsertRoom,
    mergeMessages,
    applyJoinReply,
    applyLeave,
    setOnline,
    userJoined,
    userLeft,
    setUnread,
    receiveMessage,
    userTyping,
    resume,
    joinRoom,
    loadOlder,
    leaveRoom,
    createRoom,
    selectRoom,
    sendMessage,
    retry,
    discard,
    notifyTyping,
    markRead,
    reset,
  }
})
