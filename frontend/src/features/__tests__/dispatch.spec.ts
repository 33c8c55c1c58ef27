import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest'

import { dispatch } from '@/api/dispatch'
import { INCOMING_STATES } from '@/interfaces'
import type { DataOf, Handlers, IncomingFrame, IncomingState, Message, Poll } from '@/interfaces'
import { useChatStore } from '@/stores/chat'
import { useConnectionStore } from '@/stores/connection'
import { usePollsStore } from '@/stores/polls'
import { useToastsStore } from '@/stores/toasts'

import { createHandlers } from '..'
import type { HandlerTable } from '..'

const ada = { id: 1, full_name: 'Ada' }
const room = {
  id: 10,
  name: 'general',
  topic: '',
  member_count: 2,
  online_count: 1,
  last_seq: 3,
  joined: true,
  unread: 0,
}
const message: Message = {
  id: 100,
  room: 10,
  seq: 3,
  user: ada,
  text: 'hi',
  created_at: '2024-05-01T10:00:00Z',
  client_id: null,
}

const poll: Poll = {
  id: 5,
  room: 10,
  question: 'Lunch?',
  options: ['Pizza', 'Soup'],
  counts: [1, 0],
  total: 1,
  created_by: ada,
  created_at: '2024-05-01T10:00:00Z',
}

/**
 * A realistic frame per incoming state. A state added since (`make state`) has none until you
 * write one: `sample()` gives it an empty `data`, which is enough to prove the routing.
 */
const samples: Partial<Record<IncomingState, IncomingFrame>> = {
  initialised: {
    state: 'initialised',
    data: { user: { id: 1, email: 'ada@example.com', full_name: 'Ada' }, session: 's-1' },
  },
  error: {
    state: 'error',
    error: 'Room not found.',
    code: 'not_found',
    request: 'joinRoom',
    id: 3,
  },
  ping: { state: 'ping', data: { time: '2024-05-01T10:00:00Z' }, id: 1 },
  reauth: { state: 'reauth', data: { expires_at: '2024-05-01T10:15:00Z' }, id: 2 },
  close: { state: 'close', data: {}, id: 3 },
  listRooms: { state: 'listRooms', data: { rooms: [room] }, id: 4 },
  createRoom: { state: 'createRoom', data: { room }, id: 5 },
  joinRoom: {
    state: 'joinRoom',
    data: { room, online: [ada], messages: [message], has_more: false, last_seq: 3 },
    id: 6,
  },
  leaveRoom: { state: 'leaveRoom', data: { room: 10 }, id: 7 },
  sendMessage: { state: 'sendMessage', data: { message }, id: 8 },
  history: { state: 'history', data: { messages: [message], has_more: false }, id: 9 },
  typing: { state: 'typing', data: { room: 10, user: ada } },
  markRead: { state: 'markRead', data: { room: 10, unread: 0 }, id: 10 },
  message: { state: 'message', data: message },
  userJoined: { state: 'userJoined', data: { room: 10, user: ada } },
  userLeft: { state: 'userLeft', data: { room: 10, user: ada } },
  presence: { state: 'presence', data: { room: 10, online: [ada] } },
  createPoll: { state: 'createPoll', data: { poll, my_vote: null }, id: 11 },
  pollVote: { state: 'pollVote', data: { poll, my_vote: 0 }, id: 12 },
  listPolls: { state: 'listPolls', data: { polls: [{ poll, my_vote: 0 }] }, id: 13 },
  pollCreated: { state: 'pollCreated', data: { poll } },
  pollResults: { state: 'pollResults', data: { poll } },
}

function sample(state: IncomingState): IncomingFrame {
  return samples[state] ?? ({ state, data: {} } as IncomingFrame)
}

/** A sample the tests below rely on (they name states that exist). */
function known(state: IncomingState): IncomingFrame {
  const frame = samples[state]
  if (!frame) throw new Error(`no sample for ${state}`)
  return frame
}

function spyTable() {
  const spies = Object.fromEntries(INCOMING_STATES.map((state) => [state, vi.fn()]))
  return { spies, table: spies as unknown as Handlers }
}

describe('the handler table', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('has exactly one entry per incoming state (type level)', () => {
    // Fails to type-check when a state is added to the protocol without a handler, or the
    // table grows an entry that is not a protocol state.
    expectTypeOf<keyof HandlerTable>().toEqualTypeOf<IncomingState>()
    expectTypeOf<DataOf<'typing'>>().toEqualTypeOf<
      Record<string, never> | { room: number; user: { id: number; full_name: string } }
    >()
    const { presence: _dropped, ...withoutPresence } = createHandlers()
    // @ts-expect-error a table without `presence` is not a complete Handlers
    const incomplete: Handlers = withoutPresence
    expect(incomplete).toBeDefined()
  })

  it('has exactly one entry per incoming state (run time)', () => {
    const handlers = createHandlers()
    expect(Object.keys(handlers).sort()).toEqual([...INCOMING_STATES].sort())
    for (const state of INCOMING_STATES) expect(typeof handlers[state]).toBe('function')
  })
})

describe('dispatch', () => {
  it.each(INCOMING_STATES)('sends a "%s" frame to its handler only', (state) => {
    const { spies, table } = spyTable()
    const frame = sample(state)
    dispatch(table, frame)
    const expected = frame.state === 'error' ? frame : frame.data
    expect(spies[state]).toHaveBeenCalledExactlyOnceWith(expected)
    for (const [other, spy] of Object.entries(spies)) {
      if (other !== state) expect(spy).not.toHaveBeenCalled()
    }
  })

  it('warns about an unknown state and does nothing else', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const { spies, table } = spyTable()
    dispatch(table, { state: 'somethingNew', data: {} })
    dispatch(table, { state: 'toString', data: {} }) // not fooled by Object.prototype
    expect(warn).toHaveBeenCalledTimes(2)
    expect(warn.mock.calls[0]?.[0]).toContain('somethingNew')
    for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled()
  })

  it('warns about frames that are not state objects', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const { spies, table } = spyTable()
    for (const frame of [null, 42, 'text', [], { data: {} }, { state: 7 }]) dispatch(table, frame)
    expect(warn).toHaveBeenCalledTimes(6)
    for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled()
  })

  it('keeps going when a handler throws', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const { spies, table } = spyTable()
    spies.message?.mockImplementation(() => {
      throw new Error('boom')
    })
    expect(() => dispatch(table, known('message'))).not.toThrow()
    dispatch(table, known('presence'))
    expect(error).toHaveBeenCalledOnce()
    expect(spies.presence).toHaveBeenCalledOnce()
  })
})

describe('dispatch through the real table', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('raises a toast with the message of an error frame', () => {
    const toasts = useToastsStore()
    dispatch(createHandlers(), known('error'))
    expect(toasts.toasts).toEqual([
      expect.objectContaining({ kind: 'error', message: 'Room not found.' }),
    ])
  })

  it('applies chat events to the chat store', () => {
    const chat = useChatStore()
    const handlers = createHandlers()
    dispatch(handlers, known('listRooms'))
    dispatch(handlers, known('message'))
    dispatch(handlers, known('message'))
    dispatch(handlers, known('presence'))
    expect(chat.messages[10]).toEqual([message])
    expect(chat.online[10]).toEqual([ada])
    expect(chat.roomById(10)?.online_count).toBe(1)
  })

  it('applies poll replies and events to the polls store', () => {
    const chat = useChatStore()
    const polls = usePollsStore()
    const handlers = createHandlers()
    dispatch(handlers, known('listRooms'))
    dispatch(handlers, known('listPolls'))
    expect(polls.polls[10]).toEqual([poll])
    expect(polls.myVote(5)).toBe(0)
    const moved = { ...poll, counts: [1, 1], total: 2 }
    dispatch(handlers, { state: 'pollResults', data: { poll: moved } })
    expect(polls.polls[10]).toEqual([moved])
    expect(polls.myVote(5)).toBe(0) // an event does not say how we voted
    const newer = { ...poll, id: 6, question: 'Dinner?', counts: [0, 0], total: 0 }
    dispatch(handlers, { state: 'pollCreated', data: { poll: newer } })
    expect(polls.polls[10]?.map((known) => known.id)).toEqual([6, 5])
    expect(polls.myVote(6)).toBeNull()
    expect(chat.roomById(10)).not.toBeNull()
  })

  it('ignores the empty reply to our own typing request', () => {
    const chat = useChatStore()
    dispatch(createHandlers(), { state: 'typing', data: {}, id: 4 })
    expect(chat.typing).toEqual({})
  })

  it('"initialised" records the session and resumes the chat', () => {
    const connection = useConnectionStore()
    const chat = useChatStore()
    const resume = vi.spyOn(chat, 'resume').mockResolvedValue()
    dispatch(createHandlers(), known('initialised'))
    expect(connection.session).toBe('s-1')
    expect(resume).toHaveBeenCalledOnce()
  })
})
