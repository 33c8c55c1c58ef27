/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Origin of the backend when it is not the page's own, e.g. `https://api.example.com`. */
  readonly VITE_API_URL?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}
