import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { Poll } from '@/interfaces'
import { useConnectionStore } from '@/stores/connection'
import { usePollsStore } from '@/stores/polls'

import PollsPanel from '../components/PollsPanel.vue'

function poll(id: number, room = 10): Poll {
  return {
    id,
    room,
    question: `Question ${id}?`,
    options: ['Yes', 'No'],
    counts: [0, 0],
    total: 0,
    created_by: { id: 1, full_name: 'Ada' },
    created_at: '2024-05-01T10:00:00Z',
  }
}

function mountPanel() {
  const connection = useConnectionStore()
  connection.status = 'online'
  const polls = usePollsStore()
  const vote = vi.spyOn(polls, 'vote').mockResolvedValue()
  const wrapper = mount(PollsPanel, {
    props: { roomId: 10, roomName: 'general' },
    attachTo: document.body,
  })
  return { wrapper, polls, vote, connection }
}

describe('PollsPanel', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it("lists the room's polls, newest first, and only this room's", async () => {
    const { wrapper, polls } = mountPanel()
    expect(wrapper.get('[data-testid="polls-empty"]').text()).toContain('No polls in #general')
    polls.applyPoll(poll(1))
    polls.applyPoll(poll(2))
    polls.applyPoll(poll(3, 11))
    await wrapper.vm.$nextTick()
    const cards = wrapper.findAll('[data-testid="poll"]')
    expect(cards.map((card) => card.attributes('data-poll-id'))).toEqual(['2', '1'])
    expect(wrapper.get('[data-testid="polls-count"]').text()).toBe('2')
    expect(wrapper.find('[data-testid="polls-empty"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('votes through the store, with my vote shown', async () => {
    const { wrapper, polls, vote } = mountPanel()
    polls.applyEntry({ poll: poll(1), my_vote: 1 })
    await wrapper.vm.$nextTick()
    const options = wrapper.findAll('[data-testid="poll-option"]')
    expect(options[1]?.attributes('aria-pressed')).toBe('true')
    await options[0]?.trigger('click')
    expect(vote).toHaveBeenCalledWith(1, 0)
    wrapper.unmount()
  })

  it('collapses and expands, and marks polls that arrived while closed', async () => {
    const { wrapper, polls, connection } = mountPanel()
    connection.session = 's-1'
    polls.applyPoll(poll(1))
    polls.loadedIn[10] = 's-1'
    const toggle = wrapper.get('[data-testid="polls-toggle"]')
    expect(toggle.attributes('aria-expanded')).toBe('true')
    expect(wrapper.get(`#${toggle.attributes('aria-controls')}`).isVisible()).toBe(true)
    await toggle.trigger('click')
    expect(toggle.attributes('aria-expanded')).toBe('false')
    expect(wrapper.get(`#${toggle.attributes('aria-controls')}`).isVisible()).toBe(false)
    expect(wrapper.get('.latest').text()).toBe('Question 1?')
    polls.applyPoll(poll(2))
    await wrapper.vm.$nextTick()
    expect(wrapper.get('[data-testid="polls-count"]').classes()).toContain('unseen')
    await toggle.trigger('click')
    expect(wrapper.get('[data-testid="polls-count"]').classes()).not.toContain('unseen')
    wrapper.unmount()
  })

  it('does not call the polls of a first load new', async () => {
    const { wrapper, polls, connection } = mountPanel()
    connection.session = 's-1'
    await wrapper.get('[data-testid="polls-toggle"]').trigger('click')
    polls.applyPoll(poll(1))
    polls.applyPoll(poll(2))
    polls.loadedIn[10] = 's-1'
    await wrapper.vm.$nextTick()
    expect(wrapper.get('[data-testid="polls-count"]').text()).toBe('2')
    expect(wrapper.get('[data-testid="polls-count"]').classes()).not.toContain('unseen')
    wrapper.unmount()
  })

  it('opens the form from "New poll", closes it on cancel, back on the button', async () => {
    const { wrapper } = mountPanel()
    const create = wrapper.get('[data-testid="poll-create"]')
    await create.trigger('click')
    expect(create.attributes('aria-expanded')).toBe('true')
    expect(wrapper.find('[data-testid="poll-form"]').exists()).toBe(true)
    await wrapper.get('[data-testid="poll-cancel"]').trigger('click')
    await vi.waitFor(() => expect(document.activeElement).toBe(create.element))
    expect(wrapper.find('[data-testid="poll-form"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('cannot create or vote while offline', async () => {
    const { wrapper, polls, connection, vote } = mountPanel()
    polls.applyPoll(poll(1))
    connection.status = 'reconnecting'
    await wrapper.vm.$nextTick()
    expect(wrapper.get('[data-testid="poll-create"]').attributes('disabled')).toBeDefined()
    await wrapper.get('[data-testid="poll-option"]').trigger('click')
    expect(vote).not.toHaveBeenCalled()
    wrapper.unmount()
  })
})
