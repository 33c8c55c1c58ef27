import { describe, expect, expectTypeOf, it } from 'vitest'

import { EVENT_STATES, INCOMING_STATES, REQUEST_STATES } from '@/interfaces'
import type {
  ChatUser,
  ErrorCode,
  ErrorFrame,
  EventState,
  Events,
  IncomingState,
  Message,
  MessageOut,
  Poll,
  PollOut,
  Replies,
  RequestState,
  Requests,
  Room,
  RoomOut,
  UserOut,
} from '@/interfaces'

import type * as generated from '../generated'

describe('the protocol types build on generated.ts', () => {
  it('re-exports the generated vocabulary (type level)', () => {
    expectTypeOf<Requests>().toEqualTypeOf<generated.Requests>()
    expectTypeOf<Replies>().toEqualTypeOf<generated.Replies>()
    expectTypeOf<Events>().toEqualTypeOf<generated.Events>()
    expectTypeOf<ErrorCode>().toEqualTypeOf<generated.ErrorCode>()
    expectTypeOf<ErrorFrame['code']>().toEqualTypeOf<generated.ErrorCode>()
  })

  it('names the app uses are the generated models (type level)', () => {
    expectTypeOf<Room>().toEqualTypeOf<RoomOut>()
    expectTypeOf<Message>().toEqualTypeOf<MessageOut>()
    expectTypeOf<ChatUser>().toEqualTypeOf<UserOut>()
    expectTypeOf<Poll>().toEqualTypeOf<PollOut>()
  })

  it('the generated name lists agree with the interfaces (type level)', () => {
    expectTypeOf<(typeof REQUEST_STATES)[number]>().toEqualTypeOf<RequestState>()
    expectTypeOf<(typeof EVENT_STATES)[number]>().toEqualTypeOf<EventState>()
    expectTypeOf<(typeof INCOMING_STATES)[number]>().toEqualTypeOf<IncomingState>()
  })

  it('lists every incoming state once at run time, from the generated lists', () => {
    expect(new Set(INCOMING_STATES).size).toBe(INCOMING_STATES.length)
    expect(new Set(INCOMING_STATES)).toEqual(
      new Set(['initialised', 'error', ...REQUEST_STATES, ...EVENT_STATES]),
    )
  })
})
