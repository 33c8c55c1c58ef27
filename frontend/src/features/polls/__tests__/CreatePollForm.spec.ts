import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { Poll } from '@/interfaces'
import { usePollsStore } from '@/stores/polls'

import CreatePollForm from '../components/CreatePollForm.vue'

const created: Poll = {
  id: 3,
  room: 10,
  question: 'Lunch?',
  options: ['Pizza', 'Soup'],
  counts: [0, 0],
  total: 0,
  created_by: { id: 1, full_name: 'Ada' },
  created_at: '2024-05-01T10:00:00Z',
}

function mountForm() {
  const polls = usePollsStore()
  const createPoll = vi.spyOn(polls, 'createPoll').mockResolvedValue(created)
  const wrapper = mount(CreatePollForm, {
    props: { roomId: 10, roomName: 'general' },
    attachTo: document.body,
  })
  return { wrapper, createPoll }
}

describe('CreatePollForm', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('labels its fields and starts with two options', () => {
    const { wrapper } = mountForm()
    const question = wrapper.get('[data-testid="poll-question"]')
    expect(wrapper.get(`label[for="${question.attributes('id')}"]`).text()).toBe('Question')
    const options = wrapper.findAll('[data-testid="poll-option-input"]')
    expect(options).toHaveLength(2)
    expect(wrapper.get(`label[for="${options[1]?.attributes('id')}"]`).text()).toBe('Option 2')
    expect(document.activeElement).toBe(question.element)
    wrapper.unmount()
  })

  it('shows what is missing instead of sending', async () => {
    const { wrapper, createPoll } = mountForm()
    await wrapper.get('[data-testid="poll-option-input"]').setValue('Pizza')
    await wrapper.get('form').trigger('submit')
    expect(createPoll).not.toHaveBeenCalled()
    const errors = wrapper.findAll('[data-testid="poll-error"]').map((error) => error.text())
    expect(errors).toEqual(['Write a question.', 'Give at least 2 options.'])
    const question = wrapper.get('[data-testid="poll-question"]')
    expect(question.attributes('aria-invalid')).toBe('true')
    expect(question.attributes('aria-describedby')).toBeTruthy()
    expect(document.activeElement).toBe(question.element)
    // Errors follow the typing once shown.
    await question.setValue('Lunch?')
    expect(wrapper.findAll('[data-testid="poll-error"]').map((error) => error.text())).toEqual([
      'Give at least 2 options.',
    ])
    wrapper.unmount()
  })

  it('adds up to ten options and removes down to two', async () => {
    const { wrapper } = mountForm()
    expect(wrapper.find('[data-testid="poll-remove-option"]').exists()).toBe(false)
    for (let index = 0; index < 8; index += 1) {
      await wrapper.get('[data-testid="poll-add-option"]').trigger('click')
    }
    expect(wrapper.findAll('[data-testid="poll-option-input"]')).toHaveLength(10)
    expect(wrapper.find('[data-testid="poll-add-option"]').exists()).toBe(false)
    await wrapper.findAll('[data-testid="poll-option-input"]')[3]?.setValue('keep me')
    await wrapper.findAll('[data-testid="poll-remove-option"]')[2]?.trigger('click')
    const values = wrapper
      .findAll('[data-testid="poll-option-input"]')
      .map((input) => (input.element as HTMLInputElement).value)
    expect(values).toHaveLength(9)
    expect(values[2]).toBe('keep me')
    wrapper.unmount()
  })

  it('sends the poll and reports it created', async () => {
    const { wrapper, createPoll } = mountForm()
    await wrapper.get('[data-testid="poll-question"]').setValue(' Lunch? ')
    const inputs = wrapper.findAll('[data-testid="poll-option-input"]')
    await inputs[0]?.setValue('Pizza')
    await inputs[1]?.setValue('Soup')
    await wrapper.get('[data-testid="poll-submit"]').trigger('submit')
    await vi.waitFor(() => expect(wrapper.emitted('created')).toEqual([[created]]))
    expect(createPoll).toHaveBeenCalledWith(10, 'Lunch?', ['Pizza', 'Soup'])
    wrapper.unmount()
  })

  it('cancels on Escape', async () => {
    const { wrapper } = mountForm()
    await wrapper.get('[data-testid="poll-question"]').trigger('keydown', { key: 'Escape' })
    expect(wrapper.emitted('cancel')).toHaveLength(1)
    wrapper.unmount()
  })
})
