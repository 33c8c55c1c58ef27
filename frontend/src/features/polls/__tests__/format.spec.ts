import { describe, expect, it } from 'vitest'

import { percent, validatePoll, votesLabel } from '../format'

describe('poll numbers', () => {
  it.each([
    [0, 0, 0],
    [1, 3, 33],
    [2, 3, 67],
    [3, 3, 100],
  ])('%i of %i is %i%%', (count, total, expected) => {
    expect(percent(count, total)).toBe(expected)
  })

  it('says vote or votes', () => {
    expect([0, 1, 2].map(votesLabel)).toEqual(['0 votes', '1 vote', '2 votes'])
  })
})

describe('validatePoll', () => {
  it('accepts a question and two options, trimmed, leaving blank fields out', () => {
    expect(validatePoll('  Lunch? ', [' Pizza', '', 'Soup '])).toEqual({
      question: 'Lunch?',
      options: ['Pizza', 'Soup'],
      errors: { invalidOptions: [] },
      valid: true,
    })
  })

  it('asks for a question', () => {
    const draft = validatePoll('   ', ['a', 'b'])
    expect(draft.valid).toBe(false)
    expect(draft.errors.question).toBe('Write a question.')
  })

  it('asks for two options, pointing at the empty fields', () => {
    const draft = validatePoll('Q?', ['only', '  '])
    expect(draft.valid).toBe(false)
    expect(draft.errors.options).toBe('Give at least 2 options.')
    expect(draft.errors.invalidOptions).toEqual([1])
  })

  it('refuses the same option twice, whatever the case', () => {
    const draft = validatePoll('Q?', ['Yes', 'No', ' yes'])
    expect(draft.errors.options).toBe('Each option must be different.')
    expect(draft.errors.invalidOptions).toEqual([2])
  })

  it('keeps to the server limits', () => {
    expect(validatePoll('x'.repeat(201), ['a', 'b']).errors.question).toBe(
      'A question has at most 200 characters.',
    )
    expect(validatePoll('Q?', ['a', 'b'.repeat(101)]).errors.options).toBe(
      'An option has at most 100 characters.',
    )
    const many = Array.from({ length: 11 }, (_, index) => `option ${index}`)
    expect(validatePoll('Q?', many).errors.options).toBe('A poll has at most 10 options.')
    expect(validatePoll('Q?', many.slice(0, 10)).valid).toBe(true)
  })
})
