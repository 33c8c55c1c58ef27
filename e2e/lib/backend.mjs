/**
 * The real product, started the way `make run` starts it: `alembic upgrade head`, then
 * `python -m app` (cwd backend/), on a fresh SQLite data dir and a free loopback port, serving
 * the built frontend. `kill()` + `restart()` crash it and bring it back on the same port and data.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { artifact, BACKEND_DIR, frontendDist, VENV_BIN } from './paths.mjs'
import { freePort, logTail, runProcess, startProcess, stopProcess, waitForOk } from './process.mjs'

/**
 * Settings a developer's shell or `.env` may hold that would point the server elsewhere; the
 * harness sets each of them itself (to `make run`'s defaults) so nothing leaks in.
 */
const ISOLATED = {
  ENVIRONMENT: 'local',
  BROADCAST_URL: 'memory://',
  WEB_CONCURRENCY: '1',
  OPEN_SIGNUP: 'true',
  SECRET_KEY: '',
  METRICS_TOKEN: '',
}

export class Backend {
  /**
   * @param {{ name: string, env?: Record<string, string> }} options
   *   `name` labels the log file (artifacts/<name>-backend.log); `env` adds or overrides settings.
   */
  static async start({ name, env = {} }) {
    const port = await freePort()
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `e2e-${name}-`))
    const backend = new Backend(name, port, dataDir, env)
    await backend.#launch()
    return backend
  }

  /** @type {ReturnType<typeof startProcess> | null} */
  #server = null

  /**
   * @param {string} name
   * @param {number} port
   * @param {string} dataDir
   * @param {Record<string, string>} extra
   */
  constructor(name, port, dataDir, extra) {
    this.name = name
    this.port = port
    this.dataDir = dataDir
    this.url = `http://127.0.0.1:${port}`
    this.logPath = artifact(`${name}-backend.log`)
    writeFileSync(this.logPath, '') // this run's log only; a restart appends to it
    /** @type {NodeJS.ProcessEnv} */
    this.env = {
      ...process.env,
      ...ISOLATED,
      DATA_DIR: dataDir,
      DATABASE_URL: `sqlite+aiosqlite:///${path.join(dataDir, 'app.db')}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      FRONTEND_DIST: frontendDist(),
      ALLOWED_ORIGINS: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'WARNING',
      ...extra,
    }
  }

  async #launch() {
    const options = { cwd: BACKEND_DIR, env: this.env, logPath: this.logPath }
    await runProcess(path.join(VENV_BIN, 'alembic'), ['upgrade', 'head'], options)
    this.#server = startProcess(path.join(VENV_BIN, 'python'), ['-m', 'app'], options)
    await waitForOk(`${this.url}/api/v1/health`, {
      exited: this.#server.exited,
      logPath: this.logPath,
      timeout: 60_000,
    })
  }

  /** A crash: SIGKILL, no shutdown handshake; the browser sees its sockets drop. */
  async kill() {
    if (this.#server) await stopProcess(this.#server, 'SIGKILL')
    this.#server = null
  }

  /** The same commands again, on the same port and data dir. */
  async restart() {
    await this.kill()
    await this.#launch()
  }

  /** SIGTERM (a clean shutdown), then the data dir is removed. */
  async stop() {
    if (this.#server) await stopProcess(this.#server, 'SIGTERM')
    this.#server = null
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  logTail() {
    return logTail(this.logPath)
  }
}
