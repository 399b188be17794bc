// Playwright's webServer command: the real livemon binary on a free loopback
// port with a fresh temporary data dir, removed again when the server stops.
// Prints "livemon e2e server ready at <url>" once /healthz answers; the config
// reads the URL from that line.
import { removeDir, startLivemon, tempDataDir } from './livemon.cjs'

const dataDir = tempDataDir()
let server
try {
  server = await startLivemon({
    dataDir,
    onOutput: (chunk) => process.stderr.write(chunk),
  })
} catch (err) {
  removeDir(dataDir)
  console.error(String(err?.message ?? err))
  process.exit(1)
}
console.log(`livemon e2e server ready at ${server.url}`)

let stopping = false
async function shutdown(code) {
  if (stopping) return
  stopping = true
  await server.stop(5000)
  removeDir(dataDir)
  process.exit(code)
}
process.on('SIGTERM', () => void shutdown(0))
process.on('SIGINT', () => void shutdown(0))
server.exited.then((why) => {
  if (stopping) return
  console.error(`livemon exited unexpectedly (${why})`)
  removeDir(dataDir)
  process.exit(1)
})
