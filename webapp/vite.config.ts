/// <reference types="vitest/config" />
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { defineConfig, type Plugin, type ProxyOptions } from 'vite'
import react from '@vitejs/plugin-react'

const root = path.dirname(fileURLToPath(import.meta.url))
// The Go binary embeds this directory (server/internal/webui).
const outDir = path.resolve(root, '../server/internal/webui/dist')
const backend = 'http://127.0.0.1:8000'

// The server accepts writes and WebSocket upgrades only from its own origin
// (or --allowed-origins). The proxy keeps the browser's Host header
// (changeOrigin: false), so Origin and Host agree and dev needs no flag.
const toBackend: ProxyOptions = { target: backend, changeOrigin: false }

// emptyOutDir wipes the directory, including the .gitkeep that keeps it in
// git (so `go build` works before the first web build). Put it back.
function keepGitkeep(): Plugin {
  return {
    name: 'livemon-keep-gitkeep',
    apply: 'build',
    closeBundle() {
      mkdirSync(outDir, { recursive: true })
      writeFileSync(path.join(outDir, '.gitkeep'), '')
    },
  }
}

export default defineConfig({
  plugins: [react(), keepGitkeep()],
  resolve: {
    alias: { '@': path.resolve(root, 'src') },
  },
  build: {
    outDir,
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { ...toBackend, ws: true },
      '/metrics': toBackend,
      '/healthz': toBackend,
      '/readyz': toBackend,
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
})
