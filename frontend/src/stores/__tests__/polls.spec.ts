import { createPinia, setActivePinia } from 'pinia'
import { describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'

import { SocketRequestError } from '@/api/request'
import type { Poll, PollWithVote, Replies, RequestState, Requests, Room } from '@/interfaces'

import { useAuthStore } from '../auth'
import { useChatStore } from '../chat'
import { useConnectionStore } from '../connection'
import { usePollsStore } from '../polls'

const ADA = { id: 1, full_name: 'Ada' }

function room(id: number, overrides: Partial<Room> = {}): Room {
  return {
    id,
    name: `room-${id}`,
    topic: '',
    member_count: 2,
    online_count: 1,
    last_seq: 0,
    joined: true,
    unread: 0,
    ...overrides,
  }
}

function poll(id: number, overrides: Partial<Poll> = {}): Poll {
  return {
    id,
    room: 10,
    question: `Question ${id}?`,
    options: ['Yes', 'No', 'Maybe'],
    counts: [0, 0, 0],
    total: 0,
    created_by: ADA,
    created_at: '2024-05-01T10:00:00Z',
    ...overrides,
  }
}

function counted(id: number, counts: number[], overrides: Partial<Poll> = {}): Poll {
  return poll(id, { counts, total: counts.reduce((a, b) => a + b, 0), ...overrides })
}

type Call = { state: RequestState; data: Record<string, unknown> }
type Responder = (state: RequestState, data: Record<string, unknown>) => unknown

/** A polls store on an online connection (session "s-1") answered by `respond`. */
function setup(respond: Responder = () => ({})) {
  setActivePinia(createPinia())
  const auth = useAuthStore()
  auth.user = { id: ADA.id, email: 'ada@example.com', full_name: ADA.full_name }
  const connection = useConnectionStore()
  connection.status = 'online'
  connection.session = 's-1'
  const calls: Call[] = []
  let responder = respond
  vi.spyOn(connection, 'request').mockImplementation(
    async <S extends RequestState>(state: S, data: Requests[S]): Promise<Replies[S]> => {
      const plain = { ...data } as Record<string, unknown>
      calls.push({ state, data: plain })
      return (await responder(state, plain)) as Replies[S]
    },
  )
  const chat = useChatStore()
  const polls = usePollsStore()
  return {
    chat,
    polls,
    connection,
    calls,
    callsOf: (state: RequestState) => calls.filter((call) => call.state === state),
    respondWith: (next: Responder) => {
      responder = next
    },
  }
}

const ids = (list: readonly Poll[] | undefined) => (list ?? []).map((known) => known.id)
const settle = async () => {
  await nextTick()
  await Promise.resolve()
  await nextTick()
}

describe('polls store: applying replies and events', () => {
  it('keeps each room unique by id and newest first, whatever the arrival order', () => {
    const { polls } = setup()
    polls.applyPoll(poll(2))
    polls.applyPoll(poll(5))
    polls.applyPoll(poll(1))
    polls.applyPoll(poll(3))
    polls.applyPoll(poll(5))
    polls.applyPoll(poll(7, { room: 11 }))
    expect(ids(polls.polls[10])).toEqual([5, 3, 2, 1])
    expect(ids(polls.polls[11])).toEqual([7])
  })

  it('applies results: the newest copy of a poll replaces the one held', () => {
    const { polls } = setup()
    polls.applyPoll(poll(1))
    polls.applyPoll(counted(1, [2, 1, 0]))
    expect(polls.polls[10]).toEqual([counted(1, [2, 1, 0])])
    polls.applyPoll(counted(1, [2, 2, 0]))
    expect(polls.polls[10]?.[0]?.counts).toEqual([2, 2, 0])
    expect(polls.polls[10]?.[0]?.total).toBe(4)
  })

  it('keeps my vote from replies; events change the counts, never my vote', () => {
    const { polls } = setup()
    polls.applyEntry({ poll: counted(1, [1, 0, 0]), my_vote: 0 })
    expect(polls.myVote(1)).toBe(0)
    polls.applyPoll(counted(1, [1, 1, 0])) // pollResults: someone else voted
    expect(polls.myVote(1)).toBe(0)
    polls.applyEntry({ poll: counted(1, [0, 2, 0]), my_vote: 1 }) // I moved my vote
    expect(polls.myVote(1)).toBe(1)
    polls.applyPoll(poll(2)) // pollCreated by someone else
    expect(polls.myVote(2)).toBeNull()
    polls.applyEntry({ poll: poll(3), my_vote: null }) // my own createPoll
    expect(polls.myVote(3)).toBeNull()
  })
})

describe('polls store: actions', () => {
  it('votes with pollVote and applies the reply', async () => {
    const { polls, callsOf } = setup((state, data) =>
      state === 'pollVote'
        ? { poll: counted(1, [0, 0, 1]), my_vote: data.option as number }
        : { polls: [] },
    )
    polls.applyPoll(poll(1))
    const voting = polls.vote(1, 2)
    expect(polls.voting[1]).toBe(2)
    await voting
    expect(callsOf('pollVote').map((call) => call.data)).toEqual([{ poll: 1, option: 2 }])
    expect(polls.myVote(1)).toBe(2)
    expect(polls.polls[10]?.[0]?.counts).toEqual([0, 0, 1])
    expect(polls.voting[1]).toBeUndefined()
  })

  it('sends nothing for the option already chosen, nor while a vote is on its way', async () => {
    let answer!: (reply: PollWithVote) => void
    const { polls, callsOf } = setup(
      () => new Promise<PollWithVote>((resolve) => (answer = resolve)),
    )
    polls.applyEntry({ poll: counted(1, [1, 0, 0]), my_vote: 0 })
    await polls.vote(1, 0)
    expect(callsOf('pollVote')).toHaveLength(0)
    const first = polls.vote(1, 1)
    await polls.vote(1, 2)
    expect(callsOf('pollVote')).toHaveLength(1)
    answer({ poll: counted(1, [0, 1, 0]), my_vote: 1 })
    await first
    expect(polls.myVote(1)).toBe(1)
  })

  it('keeps the poll as it was when the vote is refused', async () => {
    const { polls } = setup(() => {
      throw new SocketRequestError({ code: 'forbidden', message: 'Not a member.' })
    })
    polls.applyEntry({ poll: counted(1, [1, 0, 0]), my_vote: 0 })
    await polls.vote(1, 1)
    expect(polls.myVote(1)).toBe(0)
    expect(polls.polls[10]?.[0]?.counts).toEqual([1, 0, 0])
    expect(polls.voting).toEqual({})
  })

  it('creates a poll with the trimmed question and the filled options', async () => {
    const { polls, callsOf } = setup((state, data) => ({
      poll: poll(9, { question: data.question as string, options: data.options as string[] }),
      my_vote: null,
    }))
    const created = await polls.createPoll(10, '  Lunch? ', [' Pizza ', '', 'Soup', '  '])
    expect(callsOf('createPoll')[0]?.data).toEqual({
      room: 10,
      question: 'Lunch?',
      options: ['Pizza', 'Soup'],
    })
    expect(created.id).toBe(9)
    expect(ids(polls.polls[10])).toEqual([9])
    expect(polls.myVote(9)).toBeNull()
  })

  it('lets a refused createPoll throw, for the form to stay', async () => {
    const { polls } = setup(() => {
      throw new SocketRequestError({ code: 'forbidden', message: 'Not a member.' })
    })
    await expect(polls.createPoll(10, 'Q?', ['a', 'b'])).rejects.toMatchObject({
      code: 'forbidden',
    })
    expect(polls.polls[10]).toBeUndefined()
  })
})

describe('polls store: loading', () => {
  function withPolls(entries: PollWithVote[]): Responder {
    return (state) => (state === 'listPolls' ? { polls: entries } : {})
  }

  it('loads the polls of the room on screen once it is joined and the rooms are re-read', async () => {
    const { chat, polls, callsOf } = setup(
      withPolls([
        { poll: counted(2, [1, 0, 0]), my_vote: 0 },
        { poll: poll(1), my_vote: null },
      ]),
    )
    chat.setRooms([room(10), room(11, { joined: false })])
    chat.currentRoomId = 10
    await settle()
    expect(callsOf('listPolls')).toHaveLength(0) // not before resume()
    polls.resume()
    await settle()
    expect(callsOf('listPolls').map((call) => call.data)).toEqual([{ room: 10 }])
    expect(ids(polls.currentPolls)).toEqual([2, 1])
    expect(polls.myVote(2)).toBe(0)
    expect(polls.currentLoaded).toBe(true)
    // Back to the room later on the same connection: nothing new to ask.
    chat.currentRoomId = 11 // not joined: no listPolls (it would be refused)
    await settle()
    chat.currentRoomId = 10
    await settle()
    expect(callsOf('listPolls')).toHaveLength(1)
  })

  it('loads a room when it is joined, and again on the next connection', async () => {
    const { chat, polls, connection, callsOf } = setup(withPolls([]))
    chat.setRooms([room(10, { joined: false })])
    chat.currentRoomId = 10
    polls.resume()
    await settle()
    expect(callsOf('listPolls')).toHaveLength(0)
    chat.upsertRoom(room(10))
    await settle()
    expect(callsOf('listPolls')).toHaveLength(1)
    // A reconnect: a new session, and once the chat has re-read its rooms, the polls again.
    connection.session = null
    await settle()
    connection.session = 's-2'
    await settle()
    expect(callsOf('listPolls')).toHaveLength(1)
    polls.resume()
    await settle()
    expect(callsOf('listPolls')).toHaveLength(2)
  })

  it('merges a list with polls that arrived by event while it was on its way', async () => {
    let answer!: (reply: Replies['listPolls']) => void
    const { chat, polls } = setup(
      () => new Promise<Replies['listPolls']>((resolve) => (answer = resolve)),
    )
    chat.setRooms([room(10)])
    chat.currentRoomId = 10
    polls.resume()
    await settle()
    expect(polls.loading[10]).toBe(true)
    polls.applyPoll(poll(3)) // pollCreated, after the server read the list
    answer({ polls: [{ poll: counted(2, [0, 1, 0]), my_vote: 1 }] })
    await settle()
    expect(ids(polls.polls[10])).toEqual([3, 2])
    expect(polls.myVote(2)).toBe(1)
    expect(polls.loading[10]).toBeUndefined()
  })

  it('forgets the polls of a room that is left', async () => {
    const { chat, polls } = setup()
    chat.setRooms([room(10), room(11)])
    polls.applyEntry({ poll: poll(1), my_vote: 2 })
    polls.applyEntry({ poll: poll(2, { room: 11 }), my_vote: 0 })
    chat.applyLeave(10)
    await settle()
    expect(polls.polls[10]).toBeUndefined()
    expect(polls.myVote(1)).toBeNull()
    expect(ids(polls.polls[11])).toEqual([2])
    expect(polls.myVote(2)).toBe(0)
  })
})
