import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { Message } from '@/interfaces'
import type { PendingMessage } from '@/stores/chat'

import MessageList from '../components/MessageList.vue'

const ADA = { id: 1, full_name: 'Ada Lovelace' }
const BOB = { id: 2, full_name: 'Bob Stone' }

function msg(seq: number, overrides: Partial<Message> = {}): Message {
  return {
    id: 100 + seq,
    room: 10,
    seq,
    user: ADA,
    text: `message ${seq}`,
    created_at: new Date(2024, 4, 1, 10, seq).toISOString(),
    client_id: null,
    ...overrides,
  }
}

function mountList(messages: Message[], pending: PendingMessage[] = []) {
  return mount(MessageList, {
    props: { roomId: 10, roomName: 'general', messages, pending, meId: ADA.id },
    attachTo: document.body,
  })
}

describe('MessageList', () => {
  it('renders message text as text: HTML shows literally and injects no element', () => {
    const hostile = '<img src=x onerror=alert(1)>'
    const wrapper = mountList([
      msg(1, { text: hostile }),
      msg(2, { text: '<script>window.pwned = true</script><b>bold?</b>' }),
    ])
    const texts = wrapper.findAll('[data-testid="message-text"]')
    expect(texts[0]?.text()).toBe(hostile)
    expect(texts[0]?.element.textContent).toBe(hostile)
    expect(texts[0]?.element.children).toHaveLength(0)
    expect(texts[1]?.element.children).toHaveLength(0)
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('script').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(document.querySelector('img')).toBeNull()
    expect((window as unknown as { pwned?: boolean }).pwned).toBeUndefined()
    expect(wrapper.html()).toContain('&lt;img src=x onerror=alert(1)&gt;')
    wrapper.unmount()
  })

  it('keeps line breaks (white-space: pre-wrap on the text)', () => {
    const wrapper = mountList([msg(1, { text: 'line one\nline two\n\n  indented' })])
    const text = wrapper.get('[data-testid="message-text"]')
    expect(text.element.textContent).toBe('line one\nline two\n\n  indented')
    expect(text.classes()).toContain('text')
    wrapper.unmount()
  })

  it('groups consecutive messages by author, with one header per group', () => {
    const wrapper = mountList([
      msg(1),
      msg(2),
      msg(3, { user: BOB }),
      msg(4, { user: BOB }),
      msg(5),
    ])
    const items = wrapper.findAll('[data-testid="message-item"]')
    expect(items).toHaveLength(5)
    expect(items.map((item) => item.classes().includes('first'))).toEqual([
      true,
      false,
      true,
      false,
      true,
    ])
    expect(wrapper.findAll('[data-testid="message-author"]').map((a) => a.text())).toEqual([
      'Ada Lovelace',
      'Bob Stone',
      'Ada Lovelace',
    ])
    wrapper.unmount()
  })

  it('puts a divider between days and starts a new group after it', () => {
    const wrapper = mountList([
      msg(1, { created_at: new Date(2024, 4, 1, 23, 58).toISOString() }),
      msg(2, { created_at: new Date(2024, 4, 2, 0, 1).toISOString() }),
    ])
    expect(wrapper.findAll('.day-divider')).toHaveLength(2)
    expect(wrapper.findAll('[data-testid="message-author"]')).toHaveLength(2)
    wrapper.unmount()
  })

  it('shows times in the user locale', () => {
    const date = new Date(2024, 4, 1, 14, 5)
    const wrapper = mountList([msg(1, { created_at: date.toISOString() })])
    const expected = new Intl.DateTimeFormat(undefined, {
      hour: 'numeric',
      minute: '2-digit',
    }).format(date)
    expect(wrapper.get('.meta time').text()).toBe(expected)
    expect(wrapper.get('.meta time').attributes('datetime')).toBe(date.toISOString())
    wrapper.unmount()
  })

  it('shows pending and failed messages after the confirmed ones, with a retry for failures', async () => {
    const pending: PendingMessage[] = [
      {
        client_id: 'c-1',
        room: 10,
        text: 'on its way',
        user: ADA,
        created_at: new Date(2024, 4, 1, 10, 30).toISOString(),
        status: 'pending',
        error: null,
        queued: false,
      },
      {
        client_id: 'c-2',
        room: 10,
        text: '<i>failed</i>',
        user: ADA,
        created_at: new Date(2024, 4, 1, 10, 31).toISOString(),
        status: 'failed',
        error: 'Slow down.',
        queued: false,
      },
    ]
    const wrapper = mountList([msg(1)], pending)
    const items = wrapper.findAll('[data-testid="message-item"]')
    expect(items.map((item) => item.attributes('data-status'))).toEqual([
      'sent',
      'pending',
      'failed',
    ])
    expect(items[1]?.text()).toContain('Sending…')
    expect(items[2]?.text()).toContain('Not sent: Slow down.')
    expect(items[2]?.find('i').exists()).toBe(false)

    await wrapper.get('[data-testid="message-retry"]').trigger('click')
    await wrapper.get('[data-testid="message-discard"]').trigger('click')
    expect(wrapper.emitted('retry')).toEqual([['c-2']])
    expect(wrapper.emitted('discard')).toEqual([['c-2']])
    wrapper.unmount()
  })

  it('offers older history when there is more, and says where the room starts when not', async () => {
    const wrapper = mountList([msg(1)])
    expect(wrapper.find('[data-testid="load-older"]').exists()).toBe(false)
    expect(wrapper.text()).toContain('This is the start of #general')
    await wrapper.setProps({ hasMore: true })
    await wrapper.get('[data-testid="load-older"]').trigger('click')
    expect(wrapper.emitted('loadOlder')).toHaveLength(1)
    await wrapper.setProps({ loading: true })
    expect(wrapper.get('[data-testid="load-older"]').attributes('disabled')).toBeDefined()
    wrapper.unmount()
  })
})

describe('MessageList read tracking', () => {
  it('reports "read" when a newer confirmed message arrives while at the bottom', async () => {
    const wrapper = mountList([msg(1)])
    const before = wrapper.emitted('read')?.length ?? 0
    await wrapper.setProps({ messages: [msg(1), msg(2)] })
    expect(wrapper.emitted('read')?.length).toBe(before + 1)
    wrapper.unmount()
  })

  it('reports "read" when our own pending message is confirmed (the server counts it)', async () => {
    const pending: PendingMessage = {
      client_id: 'c-9',
      room: 10,
      text: 'mine',
      user: ADA,
      created_at: new Date(2024, 4, 1, 10, 30).toISOString(),
      status: 'pending',
      error: null,
      queued: false,
    }
    const wrapper = mountList([msg(1)], [pending])
    const before = wrapper.emitted('read')?.length ?? 0
    await wrapper.setProps({
      messages: [msg(1), msg(2, { text: 'mine', client_id: 'c-9' })],
      pending: [],
    })
    expect(wrapper.emitted('read')?.length).toBe(before + 1)
    // The same DOM row carried over from pending to confirmed (keyed by client_id).
    expect(wrapper.findAll('[data-testid="message-item"]').at(-1)?.attributes('data-status')).toBe(
      'sent',
    )
    wrapper.unmount()
  })
})
