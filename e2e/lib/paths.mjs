/** Where things are: the repository, the backend, the built frontend, the artifacts folder. */
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const REPO_DIR = path.resolve(E2E_DIR, '..')
export const BACKEND_DIR = path.join(REPO_DIR, 'backend')
export const VENV_BIN = path.join(BACKEND_DIR, '.venv', 'bin')
export const ARTIFACTS_DIR = path.join(E2E_DIR, 'artifacts')

/** The built app the backend (or nginx) serves: E2E_FRONTEND_DIST, else frontend/dist. */
export function frontendDist() {
  const dist = path.resolve(
    process.env.E2E_FRONTEND_DIST || path.join(REPO_DIR, 'frontend', 'dist'),
  )
  if (!existsSync(path.join(dist, 'index.html'))) {
    throw new Error(
      `The frontend is not built: ${dist}/index.html is missing. ` +
        'Run `cd frontend && npm ci && npm run build` (or `make run` once), or point ' +
        'E2E_FRONTEND_DIST at a built copy.',
    )
  }
  return dist
}

/** artifacts/<name>, the folder created on first use. @param {string} name */
export function artifact(name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  return path.join(ARTIFACTS_DIR, name)
}
