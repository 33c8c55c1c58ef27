import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import MessageComposer from '../components/MessageComposer.vue'

function mountComposer() {
  return mount(MessageComposer, { props: { roomName: 'general' } })
}

describe('MessageComposer', () => {
  it('is labelled for the room', () => {
    const wrapper = mountComposer()
    const input = wrapper.get('[data-testid="composer-input"]')
    const label = wrapper.get(`label[for="${input.attributes('id')}"]`)
    expect(label.text()).toBe('Message #general')
    expect(wrapper.get('[data-testid="composer-send"]').attributes('aria-label')).toBe(
      'Send message',
    )
  })

  it('sends on Enter and clears the box', async () => {
    const wrapper = mountComposer()
    const input = wrapper.get('[data-testid="composer-input"]')
    await input.setValue('hello')
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toEqual([['hello']])
    expect((input.element as HTMLTextAreaElement).value).toBe('')
  })

  it('does not send on Shift+Enter, nor while an IME is composing', async () => {
    const wrapper = mountComposer()
    const input = wrapper.get('[data-testid="composer-input"]')
    await input.setValue('line one')
    await input.trigger('keydown', { key: 'Enter', shiftKey: true })
    await input.trigger('keydown', { key: 'Enter', isComposing: true })
    expect(wrapper.emitted('send')).toBeUndefined()
  })

  it('does not send blank text', async () => {
    const wrapper = mountComposer()
    const input = wrapper.get('[data-testid="composer-input"]')
    await input.setValue('   \n  ')
    await input.trigger('keydown', { key: 'Enter' })
    await wrapper.get('form').trigger('submit')
    expect(wrapper.emitted('send')).toBeUndefined()
    expect(wrapper.get('[data-testid="composer-send"]').attributes('disabled')).toBeDefined()
  })

  it('emits typing as the user types', async () => {
    const wrapper = mountComposer()
    await wrapper.get('[data-testid="composer-input"]').setValue('h')
    expect(wrapper.emitted('typing')).toHaveLength(1)
  })

  it('shows a counter near the 4000 limit and refuses text over it', async () => {
    const wrapper = mountComposer()
    const input = wrapper.get('[data-testid="composer-input"]')
    await input.setValue('x'.repeat(3499))
    expect(wrapper.find('[data-testid="composer-counter"]').exists()).toBe(false)
    await input.setValue('x'.repeat(3500))
    expect(wrapper.get('[data-testid="composer-counter"]').text()).toBe('3500 / 4000')
    await input.setValue('x'.repeat(4001))
    expect(wrapper.get('[data-testid="composer-counter"]').classes()).toContain('over')
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toBeUndefined()
    await input.setValue('x'.repeat(4000))
    await input.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toHaveLength(1)
  })
})
