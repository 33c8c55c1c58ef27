import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { SocketRequestError } from '@/api/request'
import type { Message, Replies, RequestState, Requests, Room } from '@/interfaces'

import { useAuthStore } from '../auth'
import {
  MARK_READ_INTERVAL_MS,
  TYPING_SEND_INTERVAL_MS,
  TYPING_SHOW_MS,
  useChatStore,
} from '../chat'
import { useConnectionStore } from '../connection'

const ME = { id: 1, full_name: 'Me' }
const BOB = { id: 2, full_name: 'Bob' }

function room(id: number, overrides: Partial<Room> = {}): Room {
  return {
    id,
    name: `room-${id}`,
    topic: '',
    member_count: 2,
    online_count: 0,
    last_seq: 0,
    joined: true,
    unread: 0,
    ...overrides,
  }
}

function msg(roomId: number, seq: number, overrides: Partial<Message> = {}): Message {
  return {
    id: roomId * 1000 + seq,
    room: roomId,
    seq,
    user: BOB,
    text: `message ${seq}`,
    created_at: new Date(Date.UTC(2024, 4, 1, 10, seq)).toISOString(),
    client_id: null,
    ...overrides,
  }
}

function range(roomId: number, from: number, to: number): Message[] {
  return Array.from({ length: to - from + 1 }, (_, index) => msg(roomId, from + index))
}

function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

type Call = { state: RequestState; data: Record<string, unknown> }
type Responder = (state: RequestState, data: Record<string, unknown>) => unknown

/** A chat store whose connection is online and answered by `respond`. */
function setup(respond: Responder = () => ({})) {
  setActivePinia(createPinia())
  const auth = useAuthStore()
  auth.user = { id: ME.id, email: 'me@example.com', full_name: ME.full_name }
  const connection = useConnectionStore()
  connection.status = 'online'
  const calls: Call[] = []
  let responder = respond
  const request = async <S extends RequestState>(
    state: S,
    data: Requests[S],
  ): Promise<Replies[S]> => {
    // Generated request types are interfaces (no index signature): record them as plain data.
    const plain = { ...data } as Record<string, unknown>
    calls.push({ state, data: plain })
    return (await responder(state, plain)) as Replies[S]
  }
  vi.spyOn(connection, 'request').mockImplementation(request)
  const chat = useChatStore()
  return {
    chat,
    connection,
    calls,
    callsOf: (state: RequestState) => calls.filter((call) => call.state === state),
    respondWith: (next: Responder) => {
      responder = next
    },
  }
}

const seqs = (list: readonly Message[] | undefined) => (list ?? []).map((message) => message.seq)

describe('chat store: messages', () => {
  it('keeps each room unique by id and sorted by seq, whatever the arrival order', () => {
    const { chat } = setup()
    chat.setRooms([room(10)])
    chat.mergeMessages(10, [msg(10, 5), msg(10, 3)])
    chat.receiveMessage(msg(10, 4))
    chat.mergeMessages(10, [msg(10, 1), msg(10, 2), msg(10, 3)])
    chat.receiveMessage(msg(10, 5))
    chat.mergeMessages(10, [msg(10, 7), msg(10, 6), msg(10, 4)])
    expect(seqs(chat.messages[10])).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(new Set(chat.messages[10]?.map((message) => message.id)).size).toBe(7)
    expect(chat.highestSeq(10)).toBe(7)
    expect(chat.lowestSeq(10)).toBe(1)
    expect(chat.roomById(10)?.last_seq).toBe(7)
  })

  it('counts unread messages from others in rooms not on screen', () => {
    const { chat } = setup()
    chat.setRooms([room(10), room(20)])
    chat.currentRoomId = 10
    chat.receiveMessage(msg(10, 1))
    chat.receiveMessage(msg(20, 1))
    chat.receiveMessage(msg(20, 1)) // a repeat does not count twice
    chat.receiveMessage(msg(20, 2, { user: ME }))
    expect(chat.roomById(10)?.unread).toBe(0)
    expect(chat.roomById(20)?.unread).toBe(1)
  })

  it('markRead sends the highest seq held and zeroes the badge', async () => {
    const { chat, callsOf } = setup((state) =>
      state === 'markRead' ? { room: 10, unread: 0 } : {},
    )
    chat.setRooms([room(10, { unread: 3 })])
    chat.mergeMessages(10, range(10, 1, 3))
    chat.markRead(10)
    chat.markRead(10) // nothing new: no second request
    await Promise.resolve()
    expect(callsOf('markRead').map((call) => call.data)).toEqual([{ room: 10, seq: 3 }])
    expect(chat.roomById(10)?.unread).toBe(0)
  })
})

describe('chat store: markRead pacing', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('sends at most one markRead a second per room, the last with the highest seq', async () => {
    const { chat, callsOf } = setup((state, data) =>
      state === 'markRead' ? { room: data.room, unread: 0 } : {},
    )
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    for (let seq = 1; seq <= 20; seq += 1) {
      chat.receiveMessage(msg(10, seq))
      chat.markRead(10)
      await vi.advanceTimersByTimeAsync(100)
    }
    await vi.advanceTimersByTimeAsync(1000)
    const seqsSent = callsOf('markRead').map((call) => call.data.seq)
    expect(seqsSent.length).toBeLessThanOrEqual(3)
    expect(seqsSent.at(-1)).toBe(20)
    expect(MARK_READ_INTERVAL_MS).toBe(1000)
  })
})

describe('chat store: optimistic send', () => {
  it('shows the message at once as pending, then swaps in the confirmed one', async () => {
    const reply = deferred<Replies['sendMessage']>()
    const { chat, callsOf } = setup((state) => (state === 'sendMessage' ? reply.promise : {}))
    chat.setRooms([room(10)])
    chat.currentRoomId = 10

    const sending = chat.sendMessage('  hello\nworld  ')
    const sent = callsOf('sendMessage')[0]?.data
    const clientId = sent?.client_id as string
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/)
    expect(sent).toEqual({ room: 10, text: 'hello\nworld', client_id: clientId })
    expect(chat.pending[10]).toEqual([
      expect.objectContaining({
        client_id: clientId,
        text: 'hello\nworld',
        status: 'pending',
        user: ME,
      }),
    ])
    expect(chat.messages[10] ?? []).toEqual([])

    const confirmed = msg(10, 1, { user: ME, text: 'hello\nworld', client_id: clientId })
    reply.resolve({ message: confirmed })
    await sending
    expect(chat.pending[10]).toEqual([])
    expect(chat.messages[10]).toEqual([confirmed])

    // The table then applies the same reply, and the room's event: nothing doubles.
    chat.receiveMessage(confirmed)
    chat.receiveMessage(confirmed)
    expect(chat.messages[10]).toEqual([confirmed])
  })

  it('confirms by client_id when the event overtakes the reply', async () => {
    const reply = deferred<Replies['sendMessage']>()
    const { chat, callsOf } = setup(() => reply.promise)
    chat.setRooms([room(10)])
    const sending = chat.sendMessage('hi', 10)
    const clientId = callsOf('sendMessage')[0]?.data.client_id as string
    const confirmed = msg(10, 1, { user: ME, text: 'hi', client_id: clientId })
    chat.receiveMessage(confirmed)
    expect(chat.pending[10]).toEqual([])
    expect(chat.messages[10]).toEqual([confirmed])
    reply.resolve({ message: confirmed })
    await sending
    expect(chat.messages[10]).toEqual([confirmed])
  })

  it('marks a failed send and retries it with the SAME client_id', async () => {
    const { chat, callsOf, respondWith } = setup(() =>
      Promise.reject(
        new SocketRequestError({
          code: 'rate_limited',
          message: 'Slow down.',
          request: 'sendMessage',
        }),
      ),
    )
    chat.setRooms([room(10)])
    await chat.sendMessage('important', 10)
    const clientId = callsOf('sendMessage')[0]?.data.client_id as string
    expect(chat.pending[10]).toEqual([
      expect.objectContaining({ client_id: clientId, status: 'failed', error: 'Slow down.' }),
    ])

    const retried = deferred<Replies['sendMessage']>()
    respondWith(() => retried.promise)
    const retrying = chat.retry(10, clientId)
    expect(chat.pending[10]?.[0]?.status).toBe('pending')
    expect(callsOf('sendMessage')).toHaveLength(2)
    expect(callsOf('sendMessage')[1]?.data).toEqual({
      room: 10,
      text: 'important',
      client_id: clientId,
    })

    retried.resolve({ message: msg(10, 1, { user: ME, text: 'important', client_id: clientId }) })
    await retrying
    expect(chat.pending[10]).toEqual([])
    expect(seqs(chat.messages[10])).toEqual([1])
  })

  it('keeps a message sent while offline pending, and sends it on resume with the same client_id', async () => {
    const { chat, connection, callsOf, respondWith } = setup(() =>
      Promise.reject(new SocketRequestError({ code: 'not_connected', message: 'Not connected.' })),
    )
    chat.setRooms([room(10)])
    await chat.sendMessage('first', 10)
    await chat.sendMessage('second', 10)
    expect(chat.pending[10]?.map((entry) => [entry.text, entry.status, entry.queued])).toEqual([
      ['first', 'pending', true],
      ['second', 'pending', true],
    ])
    const clientIds = callsOf('sendMessage').map((call) => call.data.client_id)

    let seq = 0
    respondWith((state, data) => {
      if (state === 'listRooms') return { rooms: [room(10)] }
      if (state === 'joinRoom')
        return { room: room(10), online: [], messages: [], has_more: false, last_seq: 0 }
      seq += 1
      return {
        message: msg(10, seq, {
          user: ME,
          text: data.text as string,
          client_id: data.client_id as string,
        }),
      }
    })
    connection.status = 'online'
    await chat.resume()
    const resent = callsOf('sendMessage').slice(2)
    expect(resent.map((call) => [call.data.text, call.data.client_id])).toEqual([
      ['first', clientIds[0]],
      ['second', clientIds[1]],
    ])
    expect(chat.pending[10]).toEqual([])
    expect(chat.messages[10]?.map((message) => message.text)).toEqual(['first', 'second'])
  })

  it('a reply lost with the connection is recovered on resume, not shown twice', async () => {
    const stored = msg(10, 7, { user: ME, text: 'made it', client_id: 'c-lost' })
    const { chat, callsOf, respondWith } = setup(() =>
      Promise.reject(new SocketRequestError({ code: 'connection_lost', message: 'Lost.' })),
    )
    chat.setRooms([room(10)])
    await chat.sendMessage('made it', 10)
    const clientId = callsOf('sendMessage')[0]?.data.client_id as string
    respondWith((state) => {
      if (state === 'listRooms') return { rooms: [room(10)] }
      if (state === 'joinRoom')
        return { room: room(10), online: [], messages: [], has_more: false, last_seq: 7 }
      return { message: { ...stored, client_id: clientId } } // the server's stored copy
    })
    await chat.resume()
    expect(chat.pending[10]).toEqual([])
    expect(chat.messages[10]?.filter((message) => message.text === 'made it')).toHaveLength(1)
  })

  it('a refusal by the server fails visibly and is not resent by itself', async () => {
    const { chat, callsOf, respondWith } = setup(() =>
      Promise.reject(
        new SocketRequestError({ code: 'forbidden', message: 'Join the room first.' }),
      ),
    )
    chat.setRooms([room(10)])
    await chat.sendMessage('nope', 10)
    expect(chat.pending[10]?.[0]).toEqual(
      expect.objectContaining({ status: 'failed', queued: false }),
    )
    respondWith((state) =>
      state === 'listRooms'
        ? { rooms: [room(10)] }
        : { room: room(10), online: [], messages: [], has_more: false, last_seq: 0 },
    )
    await chat.resume()
    expect(callsOf('sendMessage')).toHaveLength(1)
    expect(chat.pending[10]?.[0]?.status).toBe('failed')
  })

  it('sends nothing for blank or over-long text', async () => {
    const { chat, calls } = setup()
    chat.setRooms([room(10)])
    await chat.sendMessage('   \n ', 10)
    await chat.sendMessage('x'.repeat(4001), 10)
    expect(calls).toEqual([])
    expect(chat.pending[10] ?? []).toEqual([])
  })
})

describe('chat store: joining and resuming', () => {
  it('a first join asks for the latest messages (no since) and records has_more', async () => {
    const { chat, callsOf } = setup((state) =>
      state === 'joinRoom'
        ? {
            room: room(10),
            online: [BOB],
            messages: range(10, 51, 100),
            has_more: true,
            last_seq: 100,
          }
        : {},
    )
    chat.setRooms([room(10, { joined: false })])
    await chat.joinRoom(10)
    expect(callsOf('joinRoom')[0]?.data).toEqual({ room: 10 })
    expect(seqs(chat.messages[10])).toHaveLength(50)
    expect(chat.hasMore[10]).toBe(true)
    expect(chat.online[10]).toEqual([BOB])
    expect(chat.roomById(10)?.joined).toBe(true)
  })

  it('resumes every joined room from the highest seq it holds with no hole below', async () => {
    const rooms = [room(10), room(20), room(30, { joined: false }), room(40)]
    const { chat, callsOf } = setup((state, data) => {
      if (state === 'listRooms') return { rooms }
      if (state === 'joinRoom') {
        const id = data.room as number
        const since = (data.since as number | undefined) ?? 0
        const last = { 10: 7, 20: 9, 40: 2 }[id] ?? 0
        const messages = since < last ? range(id, since + 1, last) : []
        return {
          room: room(id, { last_seq: last }),
          online: [],
          messages,
          has_more: false,
          last_seq: last,
        }
      }
      return {}
    })
    chat.setRooms(rooms)
    chat.mergeMessages(10, range(10, 1, 5))
    chat.mergeMessages(20, [msg(20, 9), msg(20, 3)])

    await chat.resume()

    expect(callsOf('listRooms')).toHaveLength(1)
    expect(callsOf('joinRoom').map((call) => call.data)).toEqual([
      { room: 10, since: 5 },
      { room: 20, since: 3 }, // 4 to 8 are missing: resume below the hole
      { room: 40 }, // joined, but nothing held yet
    ])
    expect(seqs(chat.messages[10])).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(seqs(chat.messages[20])).toEqual([3, 4, 5, 6, 7, 8, 9])
    expect(seqs(chat.messages[40])).toEqual([1, 2])

    // A second drop resumes from the new high-water marks.
    await chat.resume()
    expect(
      callsOf('joinRoom')
        .slice(3)
        .map((call) => call.data),
    ).toEqual([
      { room: 10, since: 7 },
      { room: 20, since: 9 },
      { room: 40, since: 2 },
    ])
  })

  it('resumes below a hole left by events that arrived out of seq order', async () => {
    const { chat, callsOf } = setup((state) =>
      state === 'listRooms'
        ? { rooms: [room(10)] }
        : { room: room(10), online: [], messages: [msg(10, 4)], has_more: false, last_seq: 5 },
    )
    chat.setRooms([room(10)])
    chat.mergeMessages(10, [msg(10, 1), msg(10, 2), msg(10, 3), msg(10, 5)]) // 4 still on its way
    await chat.resume()
    expect(callsOf('joinRoom')[0]?.data).toEqual({ room: 10, since: 3 })
    expect(seqs(chat.messages[10])).toEqual([1, 2, 3, 4, 5])
  })

  it('nothing shown twice when the resume overlaps what is held', async () => {
    const { chat } = setup((state) =>
      state === 'joinRoom'
        ? { room: room(10), online: [], messages: range(10, 4, 8), has_more: false, last_seq: 8 }
        : { rooms: [room(10)] },
    )
    chat.setRooms([room(10)])
    chat.mergeMessages(10, range(10, 1, 6))
    await chat.resume()
    expect(seqs(chat.messages[10])).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('fills a gap above a capped resume reply (oldest first, has_more)', async () => {
    const { chat, callsOf } = setup((state, data) => {
      if (state === 'listRooms') return { rooms: [room(10)] }
      if (state === 'joinRoom') {
        // The backend's way: the 100 right after `since`, oldest first, and has_more.
        return {
          room: room(10),
          online: [],
          messages: range(10, 51, 150),
          has_more: true,
          last_seq: 300,
        }
      }
      if (state === 'history') {
        const before = data.before as number
        const from = Math.max(1, before - 100)
        return { messages: range(10, from, before - 1), has_more: from > 1 }
      }
      return {}
    })
    chat.setRooms([room(10)])
    chat.mergeMessages(10, range(10, 1, 50))
    await chat.resume()
    expect(callsOf('joinRoom')[0]?.data).toEqual({ room: 10, since: 50 })
    expect(callsOf('history').map((call) => call.data.before)).toEqual([301, 201])
    expect(seqs(chat.messages[10])).toEqual(Array.from({ length: 300 }, (_, index) => index + 1))
  })

  it('fills a gap below a resume reply that carries only the newest messages', async () => {
    const { chat, callsOf } = setup((state, data) => {
      if (state === 'listRooms') return { rooms: [room(10)] }
      if (state === 'joinRoom') {
        return {
          room: room(10),
          online: [],
          messages: range(10, 201, 300),
          has_more: true,
          last_seq: 300,
        }
      }
      if (state === 'history') {
        const before = data.before as number
        const from = Math.max(1, before - 100)
        return { messages: range(10, from, before - 1), has_more: from > 1 }
      }
      return {}
    })
    chat.setRooms([room(10)])
    chat.mergeMessages(10, range(10, 1, 50))
    await chat.resume()
    expect(callsOf('history').map((call) => call.data.before)).toEqual([201, 101])
    expect(seqs(chat.messages[10])).toEqual(Array.from({ length: 300 }, (_, index) => index + 1))
  })

  it('loads older history before the lowest seq held, one page at a time', async () => {
    const page = deferred<Replies['history']>()
    const { chat, callsOf } = setup(() => page.promise)
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    chat.mergeMessages(10, range(10, 51, 60))
    const loading = chat.loadOlder()
    void chat.loadOlder() // already loading
    expect(callsOf('history').map((call) => call.data)).toEqual([
      { room: 10, before: 51, limit: 50 },
    ])
    expect(chat.loadingHistory[10]).toBe(true)
    page.resolve({ messages: range(10, 1, 50), has_more: false })
    await loading
    expect(seqs(chat.messages[10])).toHaveLength(60)
    expect(chat.hasMore[10]).toBe(false)
    await chat.loadOlder() // nothing older
    expect(callsOf('history')).toHaveLength(1)
  })

  it('leaving a room forgets its messages', async () => {
    const { chat } = setup((state) => (state === 'leaveRoom' ? { room: 10 } : {}))
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    chat.mergeMessages(10, range(10, 1, 3))
    await chat.leaveRoom(10)
    expect(chat.roomById(10)?.joined).toBe(false)
    expect(chat.messages[10]).toBeUndefined()
    expect(chat.currentRoomId).toBeNull()
  })

  it('creating a room joins it', async () => {
    const created = room(77, { name: 'new', joined: false })
    const { chat, callsOf } = setup((state) => {
      if (state === 'createRoom') return { room: created }
      if (state === 'joinRoom')
        return {
          room: { ...created, joined: true },
          online: [ME],
          messages: [],
          has_more: false,
          last_seq: 0,
        }
      return {}
    })
    const result = await chat.createRoom(' new ', '  ')
    expect(callsOf('createRoom')[0]?.data).toEqual({ name: 'new' })
    expect(callsOf('joinRoom')[0]?.data).toEqual({ room: 77 })
    expect(result.joined).toBe(true)
    expect(chat.joinedRooms.map((known) => known.id)).toEqual([77])
  })
})

describe('chat store: typing and presence', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('sends typing at most every 2 s while the user types', async () => {
    const { chat, callsOf } = setup()
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    for (let ms = 0; ms < 5000; ms += 250) {
      chat.notifyTyping()
      await vi.advanceTimersByTimeAsync(250)
    }
    expect(callsOf('typing')).toHaveLength(3) // at 0, 2 s and 4 s
    expect(callsOf('typing')[0]?.data).toEqual({ room: 10 })
    expect(TYPING_SEND_INTERVAL_MS).toBe(2000)
  })

  it('shows "X is typing" for about 4 s after their last typing event', async () => {
    const { chat } = setup()
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    chat.userTyping(10, BOB)
    chat.userTyping(10, ME) // never oneself
    expect(chat.currentTyping).toEqual([BOB])
    await vi.advanceTimersByTimeAsync(3000)
    chat.userTyping(10, BOB) // typing on: the 4 s start again
    await vi.advanceTimersByTimeAsync(3000)
    expect(chat.currentTyping).toEqual([BOB])
    await vi.advanceTimersByTimeAsync(TYPING_SHOW_MS - 3000)
    expect(chat.currentTyping).toEqual([])
  })

  it('a message from someone ends their typing indicator', () => {
    const { chat } = setup()
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    chat.userTyping(10, BOB)
    chat.receiveMessage(msg(10, 1))
    expect(chat.currentTyping).toEqual([])
  })

  it('tracks who is online in each room', () => {
    const { chat } = setup()
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    chat.setOnline(10, [ME])
    chat.userJoined(10, BOB)
    expect(chat.currentOnline).toEqual([ME, BOB])
    expect(chat.roomById(10)?.online_count).toBe(2)
    expect(chat.roomById(10)?.member_count).toBe(3)
    chat.userLeft(10, BOB)
    expect(chat.currentOnline).toEqual([ME])
    expect(chat.roomById(10)?.online_count).toBe(1)
    expect(chat.roomById(10)?.member_count).toBe(2)
    chat.setOnline(10, [ME, BOB])
    expect(chat.currentOnline).toEqual([ME, BOB])
  })
})
