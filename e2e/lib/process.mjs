/** Child processes that never outlive the test run, free ports, and waiting for a URL to answer. */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import net from 'node:net'

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()

// A test file that crashes or is interrupted must not leave a server behind on a port.
process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => process.exit(130))
}

/**
 * Starts `command`, its output appended to `logPath`. The returned promise `exited` settles
 * with the exit code (or the signal's name) when the process ends.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv, logPath: string }} options
 */
export function startProcess(command, args, { cwd, env, logPath }) {
  const fd = openSync(logPath, 'a')
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  children.add(child)
  /** @type {Promise<number | string>} */
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve(code ?? signal ?? 'unknown')
    })
    child.once('error', (error) => {
      children.delete(child)
      resolve(`failed to start: ${error.message}`)
    })
  })
  return { child, exited }
}

/**
 * Runs `command` to completion; throws with the log's tail unless it exits 0.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv, logPath: string }} options
 */
export async function runProcess(command, args, options) {
  const status = await startProcess(command, args, options).exited
  if (status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${status}:\n${logTail(options.logPath)}`,
    )
  }
}

/**
 * Sends `signal` and waits for the exit; SIGKILL after `grace` ms if it is still running.
 * @param {{ child: import('node:child_process').ChildProcess, exited: Promise<number | string> }} proc
 * @param {NodeJS.Signals} signal
 * @param {number} grace
 */
export async function stopProcess(proc, signal = 'SIGTERM', grace = 15_000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited
  proc.child.kill(signal)
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), grace)
  })
  const result = await Promise.race([proc.exited, timeout])
  clearTimeout(timer)
  if (result === 'timeout') {
    proc.child.kill('SIGKILL')
    return proc.exited
  }
  return result
}

/** The last lines of a log file, for error messages. @param {string | undefined} logPath */
export function logTail(logPath, lines = 40) {
  if (!logPath) return '(no log)'
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** A loopback TCP port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * Polls `url` until it answers 200, the process exits (an error with its log), or `timeout` ms.
 * @param {string} url
 * @param {{ exited?: Promise<number | string>, logPath?: string, timeout?: number }} options
 */
export async function waitForOk(url, { exited, logPath, timeout = 60_000 } = {}) {
  let status = null
  exited?.then((value) => {
    status = value
  })
  const deadline = Date.now() + timeout
  let last = 'no answer yet'
  while (Date.now() < deadline) {
    if (status !== null) {
      throw new Error(`The process exited (${status}) before ${url} answered:\n${logTail(logPath)}`)
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      if (response.ok) return await response.json().catch(() => null)
      last = `HTTP ${response.status}`
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer 200 within ${timeout} ms (${last}):\n${logTail(logPath)}`)
}
