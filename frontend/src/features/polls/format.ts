/** Numbers and checks for polls: percentages, vote counts, and the create form's validation. */
import {
  MAX_OPTION_LENGTH,
  MAX_POLL_OPTIONS,
  MAX_QUESTION_LENGTH,
  MIN_POLL_OPTIONS,
} from '@/stores/polls'

/** An option's share of the votes, as a whole percentage (0 when nobody voted). */
export function percent(count: number, total: number): number {
  return total > 0 ? Math.round((count / total) * 100) : 0
}

export function votesLabel(count: number): string {
  return count === 1 ? '1 vote' : `${count} votes`
}

export interface PollDraftErrors {
  question?: string
  options?: string
  /** Indexes of the option fields the `options` message is about. */
  invalidOptions: number[]
}

export interface PollDraft {
  question: string
  /** The filled options, trimmed, in order (blank fields are skipped). */
  options: string[]
  errors: PollDraftErrors
  valid: boolean
}

/** Checks the create form against the server's rules before it is sent. */
export function validatePoll(question: string, fields: readonly string[]): PollDraft {
  const errors: PollDraftErrors = { invalidOptions: [] }
  const trimmed = question.trim()
  if (!trimmed) errors.question = 'Write a question.'
  else if (trimmed.length > MAX_QUESTION_LENGTH)
    errors.question = `A question has at most ${MAX_QUESTION_LENGTH} characters.`

  const options: string[] = []
  const seen = new Map<string, number>()
  fields.forEach((field, index) => {
    const option = field.trim()
    if (!option) return
    options.push(option)
    const key = option.toLocaleLowerCase()
    if (option.length > MAX_OPTION_LENGTH) {
      errors.options ??= `An option has at most ${MAX_OPTION_LENGTH} characters.`
      errors.invalidOptions.push(index)
    } else if (seen.has(key)) {
      errors.options ??= 'Each option must be different.'
      errors.invalidOptions.push(index)
    }
    seen.set(key, index)
  })
  if (!errors.options && options.length < MIN_POLL_OPTIONS) {
    errors.options = `Give at least ${MIN_POLL_OPTIONS} options.`
    fields.forEach((field, index) => {
      if (!field.trim()) errors.invalidOptions.push(index)
    })
  } else if (!errors.options && options.length > MAX_POLL_OPTIONS) {
    errors.options = `A poll has at most ${MAX_POLL_OPTIONS} options.`
  }
  return {
    question: trimmed,
    options,
    errors,
    valid: !errors.question && !errors.options,
  }
}
