/** Waiting on a condition, like Playwright Test's `expect.poll` / `toPass` (not in playwright-core). */

/**
 * Calls `check` until it returns without throwing and returns its value; after `timeout` ms
 * throws its last error. Use it with `node:assert` inside `check`.
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {{ timeout?: number, interval?: number }} [options]
 * @returns {Promise<T>}
 */
export async function eventually(check, { timeout = 15_000, interval = 50 } = {}) {
  const deadline = Date.now() + timeout
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() >= deadline) {
        if (error instanceof Error) error.message = `after ${timeout} ms: ${error.message}`
        throw error
      }
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
