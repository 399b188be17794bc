// Starts and stops the real livemon binary for the end-to-end tests. Plain
// CommonJS so that both Playwright's webServer wrapper (run by node) and the
// TypeScript fixtures (transpiled to CommonJS by Playwright) can use it.
'use strict'
const { spawn } = require('node:child_process')
const { existsSync, mkdtempSync, rmSync } = require('node:fs')
const { createServer } = require('node:net')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')

const here = __dirname

/** The server binary that `make build` produces. */
const LIVEMON_BIN = process.env.LIVEMON_BIN ?? resolve(here, '..', '..', 'bin', 'livemon')

function assertBinary() {
  if (!existsSync(LIVEMON_BIN)) {
    throw new Error(`${LIVEMON_BIN} does not exist: run "make build" first (make test-e2e does)`)
  }
}

/** A fresh, empty data dir under the system temp dir. */
function tempDataDir(prefix = 'livemon-e2e-data-') {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** @param {string} dir */
function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true })
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago.
 * @returns {Promise<number>}
 */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePort(port))
    })
  })
}

/**
 * Polls GET url/healthz until it answers 200, at most `timeoutMs`, every
 * `intervalMs`. Rejects early when `exited()` says the process is gone.
 *
 * @param {string} url
 * @param {{ timeoutMs?: number, intervalMs?: number, exited?: () => string | null }} [opts]
 */
async function waitHealthy(url, { timeoutMs = 20_000, intervalMs = 100, exited = () => null } = {}) {
  const deadline = Date.now() + timeoutMs
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1
  let last = 'no answer'
  for (let attempt = 0; attempt < maxAttempts && Date.now() < deadline; attempt++) {
    const why = exited()
    if (why) throw new Error(`livemon exited before it was healthy: ${why}`)
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })
      if (res.status === 200) return
      last = `status ${res.status}`
    } catch (err) {
      last = String(err?.cause?.code ?? err)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`livemon at ${url} not healthy within ${timeoutMs} ms (last: ${last})`)
}

/**
 * Spawns `livemon --addr 127.0.0.1:<port> --data <dataDir> --demo=false
 * ...extraArgs` and waits for /healthz. Output goes to `onOutput` (default:
 * kept in memory, see `output()`), so a failing test can show the log.
 *
 * @param {{ dataDir: string, port?: number, extraArgs?: string[], healthTimeoutMs?: number,
 *           onOutput?: (chunk: string) => void }} opts
 */
async function startLivemon({ dataDir, port, extraArgs = [], healthTimeoutMs = 20_000, onOutput }) {
  assertBinary()
  if (!dataDir) throw new Error('startLivemon: dataDir is required')
  const p = port ?? (await freePort())
  const url = `http://127.0.0.1:${p}`
  const args = ['--addr', `127.0.0.1:${p}`, '--data', dataDir, '--demo=false', ...extraArgs]
  const child = spawn(LIVEMON_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const sink = onOutput ?? ((chunk) => {
    log += chunk
    if (log.length > 200_000) log = log.slice(-100_000)
  })
  child.stdout.setEncoding('utf8').on('data', sink)
  child.stderr.setEncoding('utf8').on('data', sink)
  let exitInfo = null
  const exited = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      exitInfo = `code ${code}, signal ${signal}`
      resolveExit(exitInfo)
    })
  })
  child.on('error', (err) => {
    exitInfo = `spawn error: ${err.message}`
  })
  const handle = {
    url,
    port: p,
    dataDir,
    pid: child.pid,
    output: () => log,
    exited,
    /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
    /** @param {number} [graceMs] */
    async stop(graceMs = 8000) {
      if (exitInfo) return exitInfo
      child.kill('SIGTERM')
      let timer
      const killed = new Promise((r) => {
        timer = setTimeout(() => {
          if (!exitInfo) child.kill('SIGKILL')
          r(null)
        }, graceMs)
      })
      await Promise.race([exited, killed])
      clearTimeout(timer)
      return exited
    },
  }
  try {
    await waitHealthy(url, { timeoutMs: healthTimeoutMs, exited: () => exitInfo })
  } catch (err) {
    await handle.stop(2000)
    throw new Error(`${err.message}\n--- livemon output ---\n${log.slice(-4000)}`)
  }
  return handle
}

module.exports = { LIVEMON_BIN, assertBinary, tempDataDir, removeDir, freePort, waitHealthy, startLivemon }
