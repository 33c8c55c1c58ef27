/**
 * Polls in chat rooms: the state of the tutorial's feature (docs/extending.md, "Tutorial: polls").
 *
 * Each room's polls are unique by id and newest first. Replies and events carry the whole poll
 * with its counts, so applying one replaces what is held; only replies say how the current user
 * voted (`my_vote`), so those votes are kept apart, by poll id. Polls are never deleted, so a
 * `listPolls` reply is merged in rather than replacing the list: a poll that arrived by event
 * while the list was on its way stays.
 *
 * A room's polls are fetched with `listPolls` when it is on screen and joined, once per
 * connection: after a reconnect (`resume()`, called once the chat has re-listed its rooms) they
 * are fetched again, since the events sent meanwhile were missed.
 */
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

import type { Poll, PollWithVote } from '@/interfaces'

import { useAuthStore } from './auth'
import { useChatStore } from './chat'
import { useConnectionStore } from './connection'

/** The server's limits (backend/app/polls/states.py). */
export const MIN_POLL_OPTIONS = 2
export const MAX_POLL_OPTIONS = 10
export const MAX_QUESTION_LENGTH = 200
export const MAX_OPTION_LENGTH = 100

export const usePollsStore = defineStore('polls', () => {
  const auth = useAuthStore()
  const chat = useChatStore()
  const connection = useConnectionStore()

  /** Per room: its polls, newest (highest id) first, unique by id. */
  const polls = ref<Record<number, Poll[]>>({})
  /** Per poll: the option the current user voted for, or null. */
  const myVotes = ref<Record<number, number | null>>({})
  /** Per room: a `listPolls` is on its way. */
  const loading = ref<Record<number, boolean>>({})
  /** Per room: the connection (session id) whose `listPolls` it was loaded with. */
  const loadedIn = ref<Record<number, string>>({})
  /** Per poll: the option a vote is on its way for. */
  const voting = ref<Record<number, number>>({})
  /** The connection whose room list the chat store has re-read (see `resume`). */
  const syncedSession = ref<string | null>(null)

  const currentPolls = computed(() =>
    chat.currentRoomId === null ? [] : (polls.value[chat.currentRoomId] ?? []),
  )
  const currentLoaded = computed(
    () =>
      chat.currentRoomId !== null &&
      connection.session !== null &&
      loadedIn.value[chat.currentRoomId] === connection.session,
  )

  function myVote(pollId: number): number | null {
    return myVotes.value[pollId] ?? null
  }

  // ---- applying data (idempotent) -------------------------------------------------------

  /** A poll from a reply or an event: replaces the copy held, or takes its place by id. */
  function applyPoll(poll: Poll): void {
    const list = (polls.value[poll.room] ??= [])
    const index = list.findIndex((known) => known.id === poll.id)
    if (index !== -1) {
      list[index] = poll
      return
    }
    const before = list.findIndex((known) => known.id < poll.id)
    if (before === -1) list.push(poll)
    else list.splice(before, 0, poll)
  }

  /** A reply's poll with the current user's vote in it. */
  function applyEntry({ poll, my_vote }: PollWithVote): void {
    applyPoll(poll)
    myVotes.value[poll.id] = my_vote
  }

  /** Drops what is held for a room (left, or no longer ours). */
  function forget(roomId: number): void {
    for (const poll of polls.value[roomId] ?? []) {
      delete myVotes.value[poll.id]
      delete voting.value[poll.id]
    }
    delete polls.value[roomId]
    delete loading.value[roomId]
    delete loadedIn.value[roomId]
  }

  // ---- actions ---------------------------------------------------------------------------

  /** Fetches a room's polls with the current user's votes (errors are toasted by the table). */
  async function loadPolls(roomId: number): Promise<void> {
    const session = connection.session
    if (session === null || loading.value[roomId]) return
    loading.value[roomId] = true
    try {
      const reply = await connection.request('listPolls', { room: roomId })
      if (!chat.roomById(roomId)?.joined) return // left while it was on its way
      for (const entry of reply.polls) applyEntry(entry)
      loadedIn.value[roomId] = session
    } catch {
      // An error frame raised a toast, or the socket dropped: the next connection asks again.
    } finally {
      delete loading.value[roomId]
    }
  }

  /** Creates a poll in a room; throws (after the error toast) when the server refuses it. */
  async function createPoll(
    roomId: number,
    question: string,
    options: readonly string[],
  ): Promise<Poll> {
    const reply = await connection.request('createPoll', {
      room: roomId,
      question: question.trim(),
      options: options.map((option) => option.trim()).filter(Boolean),
    })
    applyEntry(reply)
    return reply.poll
  }

  /** Votes for an option (by index), or moves the vote; one vote per poll at a time. */
  async function vote(pollId: number, option: number): Promise<void> {
    if (voting.value[pollId] !== undefined || myVote(pollId) === option) return
    voting.value[pollId] = option
    try {
      applyEntry(await connection.request('pollVote', { poll: pollId, option }))
    } catch {
      // An error frame raised a toast; the poll stays as it was.
    } finally {
      delete voting.value[pollId]
    }
  }

  /** After each handshake, once the chat has re-listed its rooms: polls are fetched again. */
  function resume(): void {
    syncedSession.value = connection.session
  }

  function reset(): void {
    polls.value = {}
    myVotes.value = {}
    loading.value = {}
    loadedIn.value = {}
    voting.value = {}
    syncedSession.value = null
  }

  // The room on screen, once joined on a connection whose room list is current: its polls.
  watch(
    () =>
      [
        chat.currentRoomId,
        chat.currentRoom?.joined === true,
        connection.session,
        syncedSession.value,
      ] as const,
    ([roomId, joined, session, synced]) => {
      if (roomId === null || !joined || session === null || session !== synced) return
      if (loadedIn.value[roomId] !== session) void loadPolls(roomId)
    },
    { immediate: true },
  )

  // A room left (here or in another tab, seen at the next listRooms) takes its polls with it.
  watch(
    () => chat.joinedRooms.map((room) => room.id).join(','),
    (ids) => {
      const joined = new Set(ids.split(',').filter(Boolean).map(Number))
      for (const key of Object.keys(polls.value)) {
        if (!joined.has(Number(key))) forget(Number(key))
      }
    },
  )

  // Another user (or none) means none of this state is ours any more.
  watch(
    () => auth.user?.id ?? null,
    (id, previous) => {
      if (id !== previous && previous !== null) reset()
    },
  )

  return {
    polls,
    myVotes,
    loading,
    loadedIn,
    voting,
    currentPolls,
    currentLoaded,
    myVote,
    applyPoll,
    applyEntry,
    forget,
    loadPolls,
    createPoll,
    vote,
    resume,
    reset,
  }
})
