import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { Poll } from '@/interfaces'

import PollCard from '../components/PollCard.vue'

const poll: Poll = {
  id: 7,
  room: 10,
  question: 'Lunch?',
  options: ['Pizza', 'Sushi', 'Soup'],
  counts: [1, 2, 0],
  total: 3,
  created_by: { id: 1, full_name: 'Ada Lovelace' },
  created_at: '2024-05-01T10:00:00Z',
}

function mountCard(props: Partial<InstanceType<typeof PollCard>['$props']> = {}) {
  return mount(PollCard, { props: { poll, ...props } })
}

describe('PollCard', () => {
  it('shows the question, the author, the total and each option with its count and share', () => {
    const wrapper = mountCard()
    expect(wrapper.get('[data-testid="poll"]').attributes('data-poll-id')).toBe('7')
    expect(wrapper.get('[data-testid="poll-title"]').text()).toBe('Lunch?')
    expect(wrapper.text()).toContain('Ada Lovelace')
    expect(wrapper.get('[data-testid="poll-total"]').text()).toBe('3 votes')
    const options = wrapper.findAll('[data-testid="poll-option"]')
    expect(options.map((option) => option.find('.text').text())).toEqual(['Pizza', 'Sushi', 'Soup'])
    expect(wrapper.findAll('[data-testid="poll-count"]').map((count) => count.text())).toEqual([
      '1',
      '2',
      '0',
    ])
    expect(wrapper.findAll('[data-testid="poll-percent"]').map((share) => share.text())).toEqual([
      '33%',
      '67%',
      '0%',
    ])
    const bars = wrapper.findAll('.bar').map((bar) => (bar.element as HTMLElement).style.width)
    expect(bars).toEqual(['33%', '67%', '0%'])
  })

  it('labels each option for assistive technology, as a toggle button', () => {
    const wrapper = mountCard({ myVote: 1 })
    const sushi = wrapper.findAll('[data-testid="poll-option"]')[1]
    expect(sushi?.element.tagName).toBe('BUTTON')
    expect(sushi?.attributes('type')).toBe('button')
    expect(sushi?.attributes('aria-label')).toBe('Sushi: 2 votes, 67%')
    expect(wrapper.get('article').attributes('aria-labelledby')).toBe(
      wrapper.get('[data-testid="poll-title"]').attributes('id'),
    )
  })

  it('highlights my vote and says how to change it', () => {
    const wrapper = mountCard({ myVote: 1 })
    const options = wrapper.findAll('[data-testid="poll-option"]')
    expect(options.map((option) => option.attributes('aria-pressed'))).toEqual([
      'false',
      'true',
      'false',
    ])
    expect(options[1]?.classes()).toContain('mine')
    expect(options[1]?.attributes('data-mine')).toBe('true')
    expect(wrapper.get('.hint').text()).toBe(
      'You voted “Sushi”. Choose another option to change your vote.',
    )
  })

  it('emits a vote for a clicked option, and not for the one already chosen', async () => {
    const wrapper = mountCard({ myVote: 1 })
    const options = wrapper.findAll('[data-testid="poll-option"]')
    await options[2]?.trigger('click')
    await options[1]?.trigger('click')
    await options[0]?.trigger('click')
    expect(wrapper.emitted('vote')).toEqual([[2], [0]])
  })

  it('invites a first vote when I have none', () => {
    const wrapper = mountCard()
    expect(
      wrapper.findAll('[data-testid="poll-option"]').every((o) => o.attributes('aria-pressed')),
    ).toBe(true)
    expect(wrapper.findAll('[aria-pressed="true"]')).toHaveLength(0)
    expect(wrapper.get('.hint').text()).toBe('Choose an option to vote.')
  })

  it('waits for a vote on its way, and refuses votes while offline', async () => {
    const wrapper = mountCard({ myVote: 0, pendingOption: 2 })
    expect(wrapper.get('article').attributes('aria-busy')).toBe('true')
    expect(wrapper.findAll('[data-testid="poll-option"]')[2]?.text()).toContain('Voting…')
    expect(wrapper.findAll('[data-testid="poll-option"]')[2]?.attributes('aria-label')).toBe(
      'Soup: 0 votes, 0%, voting…',
    )
    await wrapper.findAll('[data-testid="poll-option"]')[1]?.trigger('click')
    expect(wrapper.emitted('vote')).toBeUndefined()

    await wrapper.setProps({ pendingOption: null, disabled: true })
    const option = wrapper.findAll('[data-testid="poll-option"]')[1]
    expect(option?.attributes('aria-disabled')).toBe('true')
    await option?.trigger('click')
    expect(wrapper.emitted('vote')).toBeUndefined()
    expect(wrapper.get('.hint').text()).toBe('Voting is back once you are online.')
  })

  it('follows live results: new counts re-render the bars', async () => {
    const wrapper = mountCard({ myVote: 1 })
    await wrapper.setProps({ poll: { ...poll, counts: [1, 2, 1], total: 4 } })
    expect(wrapper.findAll('[data-testid="poll-percent"]').map((share) => share.text())).toEqual([
      '25%',
      '50%',
      '25%',
    ])
    expect(wrapper.get('[data-testid="poll-total"]').text()).toBe('4 votes')
    await wrapper.setProps({ poll: { ...poll, counts: [0, 0, 0], total: 0 } })
    expect(wrapper.findAll('[data-testid="poll-percent"]').map((share) => share.text())).toEqual([
      '0%',
      '0%',
      '0%',
    ])
  })

  it('renders poll text as text, never as HTML', () => {
    const wrapper = mountCard({
      poll: { ...poll, question: '<img src=x onerror=alert(1)>', options: ['<b>a</b>', 'b'] },
    })
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.get('[data-testid="poll-title"]').text()).toBe('<img src=x onerror=alert(1)>')
  })
})
