import { defineStore } from 'pinia'
import { ref } from 'vue'

export type ToastKind = 'error' | 'info' | 'success'

export interface Toast {
  id: number
  kind: ToastKind
  message: string
}

/** Short-lived notices; errors from the socket land here. */
export const useToastsStore = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([])
  let nextId = 1
  const timers = new Map<number, ReturnType<typeof setTimeout>>()

  function dismiss(id: number): void {
    const timer = timers.get(id)
    if (timer !== undefined) clearTimeout(timer)
    timers.delete(id)
    toasts.value = toasts.value.filter((toast) => toast.id !== id)
  }

  /** Shows `message`; it goes away after `timeout` ms (0: stays until dismissed). */
  function push(message: string, kind: ToastKind = 'info', timeout = 6000): number {
    const id = nextId++
    toasts.value.push({ id, kind, message })
    // Keep the stack short: the oldest goes first.
    if (toasts.value.length > 4) {
      const oldest = toasts.value[0]
      if (oldest) dismiss(oldest.id)
    }
    if (timeout > 0)
      timers.set(
        id,
        setTimeout(() => dismiss(id), timeout),
      )
    return id
  }

  function error(message: string): number {
    return push(message, 'error', 8000)
  }

  return { toasts, push, error, dismiss }
})
