/**
 * The production stack without containers, as backend/tests/deploy/test_production_smoke.py
 * runs it: backend/scripts/start.sh (migrations, then two uvicorn workers) on a fresh
 * PostgreSQL database and Redis broadcasting, behind Debian's nginx running
 * frontend/nginx/default.conf.template and serving the built app.
 *
 * Needs TEST_DATABASE_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test, a database
 * to connect to for CREATE/DROP DATABASE), TEST_REDIS_URL and nginx; `missing()` says which
 * is absent so the test can skip with that reason.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { artifact, BACKEND_DIR, frontendDist, REPO_DIR, VENV_BIN } from './paths.mjs'
import { freePort, logTail, runProcess, startProcess, stopProcess, waitForOk } from './process.mjs'

const TEMPLATE = path.join(REPO_DIR, 'frontend', 'nginx', 'default.conf.template')

export function nginxPath() {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((candidate) => existsSync(candidate)) ?? null
}

/** Why the production stack cannot run here, or null when it can. */
export function missing() {
  if (!process.env.TEST_DATABASE_URL) return 'TEST_DATABASE_URL is not set'
  if (!process.env.TEST_REDIS_URL) return 'TEST_REDIS_URL is not set'
  if (!nginxPath()) return 'nginx is not installed (apt-get install nginx-light)'
  return null
}

/**
 * A PostgreSQL URL with another scheme (driver) and, optionally, another database.
 * @param {string} url @param {string} scheme @param {string} [database]
 */
export function postgresUrl(url, scheme, database) {
  const parsed = new URL(url.replace(/^[a-z0-9+]+:/i, 'postgresql:'))
  if (database) parsed.pathname = `/${database}`
  return parsed.toString().replace(/^postgresql:/, `${scheme}:`)
}

/**
 * The repository's server block, substituted like the nginx image's envsubst (only ${NAME}
 * of the three variables; nginx's own $variables stay), inside a main config of temp paths.
 * @param {string} workdir @param {{ backendPort: number, port: number, root: string }} values
 */
export function renderNginx(workdir, { backendPort, port, root }) {
  /** @type {Record<string, string>} */
  const values = {
    BACKEND_UPSTREAM: `127.0.0.1:${backendPort}`,
    // `listen 127.0.0.1:<port>`: the template's `listen ${NGINX_PORT}` bound to loopback only.
    NGINX_PORT: `127.0.0.1:${port}`,
    NGINX_ROOT: root,
  }
  const server = readFileSync(TEMPLATE, 'utf8').replace(
    /\$\{(\w+)\}/g,
    (whole, name) => values[name] ?? whole,
  )
  if (server.includes('${')) throw new Error(`unsubstituted variable left in ${TEMPLATE}`)
  writeFileSync(path.join(workdir, 'default.conf'), server)
  const user = process.getuid?.() === 0 ? 'user root root;' : ''
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `    ${kind}_temp_path ${path.join(workdir, kind)};`)
    .join('\n')
  const main = path.join(workdir, 'nginx.conf')
  writeFileSync(
    main,
    `${user}
daemon off;
worker_processes 1;
pid ${path.join(workdir, 'nginx.pid')};
error_log ${path.join(workdir, 'error.log')} warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log ${path.join(workdir, 'access.log')};
${temps}
    include ${path.join(workdir, 'default.conf')};
}
`,
  )
  return main
}

export class ProductionStack {
  /** Creates the database, starts the backend and nginx, and waits for both to answer. */
  static async start() {
    const reason = missing()
    if (reason) throw new Error(reason)
    const stack = new ProductionStack()
    try {
      await stack.#start()
    } catch (error) {
      await stack.stop()
      throw error
    }
    return stack
  }

  /** @type {ReturnType<typeof startProcess> | null} */
  #backend = null
  /** @type {ReturnType<typeof startProcess> | null} */
  #nginx = null
  #databaseCreated = false

  constructor() {
    const base = /** @type {string} */ (process.env.TEST_DATABASE_URL)
    this.workdir = mkdtempSync(path.join(os.tmpdir(), 'e2e-production-'))
    this.database = `e2e_${randomBytes(6).toString('hex')}`
    /** Where CREATE/DROP DATABASE run (psql takes a libpq URL). */
    this.adminUrl = postgresUrl(base, 'postgresql')
    this.databaseUrl = postgresUrl(base, 'postgresql+asyncpg', this.database)
    this.backendLog = artifact('production-backend.log')
    this.nginxLog = artifact('production-nginx.log')
    for (const log of [this.backendLog, this.nginxLog]) writeFileSync(log, '')
    this.url = ''
  }

  /** @param {string} sql */
  async #psql(sql) {
    await runProcess('psql', [this.adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], {
      cwd: this.workdir,
      env: process.env,
      logPath: artifact('production-psql.log'),
    })
  }

  async #start() {
    await this.#psql(`CREATE DATABASE "${this.database}"`)
    this.#databaseCreated = true
    const [backendPort, port] = [await freePort(), await freePort()]
    this.url = `http://127.0.0.1:${port}`
    const root = frontendDist()
    this.#backend = startProcess('sh', [path.join(BACKEND_DIR, 'scripts', 'start.sh')], {
      cwd: BACKEND_DIR,
      logPath: this.backendLog,
      env: {
        ...process.env,
        ENVIRONMENT: 'production',
        SECRET_KEY: randomBytes(36).toString('base64url'),
        DATABASE_URL: this.databaseUrl,
        BROADCAST_URL: /** @type {string} */ (process.env.TEST_REDIS_URL),
        BROADCAST_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
        WEB_CONCURRENCY: '2',
        HOST: '127.0.0.1',
        PORT: String(backendPort),
        ALLOWED_ORIGINS: this.url,
        FORWARDED_ALLOW_IPS: '127.0.0.1',
        // Only nginx serves the app: the backend's own copy would hide a proxy mistake.
        FRONTEND_DIST: path.join(this.workdir, 'served-by-nginx'),
        DATA_DIR: this.workdir,
        LOG_LEVEL: 'INFO',
        PYTHON: path.join(VENV_BIN, 'python'),
        // The workers' shared metrics folder, inside the workdir so that it goes with it.
        PROMETHEUS_MULTIPROC_DIR: path.join(this.workdir, 'metrics'),
      },
    })
    const config = renderNginx(this.workdir, { backendPort, port, root })
    this.#nginx = startProcess(
      /** @type {string} */ (nginxPath()),
      ['-c', config, '-p', this.workdir],
      {
        cwd: this.workdir,
        env: process.env,
        logPath: this.nginxLog,
      },
    )
    await waitForOk(`http://127.0.0.1:${backendPort}/api/v1/health`, {
      exited: this.#backend.exited,
      logPath: this.backendLog,
      timeout: 90_000,
    })
    await waitForOk(`${this.url}/api/v1/health`, {
      exited: this.#nginx.exited,
      logPath: path.join(this.workdir, 'error.log'),
      timeout: 20_000,
    })
  }

  /** Worker pid per socket session id, from the backend's JSON log lines ("session started"). */
  sessionPids() {
    /** @type {Map<string, number>} */
    const pids = new Map()
    for (const line of readFileSync(this.backendLog, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        const entry = JSON.parse(line)
        if (String(entry.message ?? '').startsWith('session started') && entry.connection) {
          pids.set(entry.connection, entry.pid)
        }
      } catch {
        // A line cut by a concurrent write; the next read has it whole.
      }
    }
    return pids
  }

  logTail() {
    return logTail(this.backendLog)
  }

  async stop() {
    if (this.#nginx) await stopProcess(this.#nginx, 'SIGTERM', 10_000)
    if (this.#backend) await stopProcess(this.#backend, 'SIGTERM', 20_000)
    this.#nginx = this.#backend = null
    if (this.#databaseCreated) {
      await this.#psql(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`)
      this.#databaseCreated = false
    }
    for (const log of ['error.log', 'access.log']) {
      const source = path.join(this.workdir, log)
      if (existsSync(source)) copyFileSync(source, artifact(`production-nginx-${log}`))
    }
    rmSync(this.workdir, { recursive: true, force: true })
  }
}
