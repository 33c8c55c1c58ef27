/** The polls feature's entries in the handler table: one per poll reply and event. */
import type { Handlers } from '@/interfaces'
import type { usePollsStore } from '@/stores/polls'

type PollsStore = ReturnType<typeof usePollsStore>

export function pollHandlers(polls: PollsStore) {
  return {
    // Replies: each carries the current user's vote.
    createPoll: (reply) => polls.applyEntry(reply),
    pollVote: (reply) => polls.applyEntry(reply),
    listPolls: (reply) => {
      for (const entry of reply.polls) polls.applyEntry(entry)
    },
    // Events: the counts changed, or a new poll; the user's own vote is unchanged by them.
    pollCreated: ({ poll }) => polls.applyPoll(poll),
    pollResults: ({ poll }) => polls.applyPoll(poll),
  } satisfies Partial<Handlers>
}
