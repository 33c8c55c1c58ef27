import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import TypingIndicator from '@/features/chat/components/TypingIndicator.vue'

import ConnectionBadge from '../ConnectionBadge.vue'

describe('ConnectionBadge', () => {
  it.each([
    ['connecting', 'Connecting…'],
    ['online', 'Online'],
    ['reconnecting', 'Reconnecting…'],
    ['offline', 'Offline'],
  ] as const)('shows %s', (status, label) => {
    const wrapper = mount(ConnectionBadge, { props: { status } })
    const badge = wrapper.get('[data-testid="connection-badge"]')
    expect(badge.attributes('data-status')).toBe(status)
    expect(badge.attributes('role')).toBe('status')
    expect(badge.text()).toBe(label)
  })
})

describe('TypingIndicator', () => {
  const ada = { id: 1, full_name: 'Ada' }
  const bob = { id: 2, full_name: 'Bob' }
  const cy = { id: 3, full_name: 'Cy' }

  it.each([
    [[], ''],
    [[ada], 'Ada is typing…'],
    [[ada, bob], 'Ada and Bob are typing…'],
    [[ada, bob, cy], 'Several people are typing…'],
  ])('names who is typing (%#)', (users, text) => {
    const wrapper = mount(TypingIndicator, { props: { users } })
    expect(wrapper.get('[data-testid="typing-indicator"]').text()).toBe(text)
  })
})
