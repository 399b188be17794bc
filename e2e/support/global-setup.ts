// Generates the test videos with `livemon gen-video` into a temp dir (never
// into the repository). They are cached under the system temp dir, keyed by
// the specs and the source of the generator, so reruns skip the ~20 s of
// encoding.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { FullConfig } from '@playwright/test'
import { ALL_VIDEOS, BAD_FILE, type VideoSpec } from './media'
import { LIVEMON_BIN, assertBinary } from './livemon.cjs'

const run = promisify(execFile)
const repo = resolve(__dirname, '..', '..')
const GENERATOR_SOURCES = [
  'server/cmd/livemon/genvideo.go',
  'server/internal/opencv/writer.go',
  'server/internal/marker/marker.go',
]

function cacheKey(): string {
  const h = createHash('sha256')
  h.update(JSON.stringify(ALL_VIDEOS))
  for (const f of GENERATOR_SOURCES) {
    const p = join(repo, f)
    h.update(f)
    h.update(existsSync(p) ? readFileSync(p) : readFileSync(LIVEMON_BIN))
  }
  return h.digest('hex').slice(0, 16)
}

function complete(dir: string): boolean {
  return Object.keys(ALL_VIDEOS)
    .concat(BAD_FILE)
    .every((name) => existsSync(join(dir, name)) && statSync(join(dir, name)).size > 0)
}

async function generate(out: string, v: VideoSpec): Promise<void> {
  const args = ['gen-video', '--out', out, '--video-id', String(v.id), '--frames', String(v.frames),
    '--width', String(v.width), '--height', String(v.height), '--fps', String(v.fps)]
  if (v.noise) args.push('--noise')
  await run(LIVEMON_BIN, args, { timeout: 120_000 })
}

/** Removes media sets of other generator versions (about 100 MB each) and abandoned staging dirs. */
function pruneCache(root: string, keep: string): void {
  if (!existsSync(root)) return
  for (const name of readdirSync(root)) {
    const p = join(root, name)
    const abandoned = name.includes('.tmp-') && Date.now() - statSync(p).mtimeMs > 60 * 60 * 1000
    if (abandoned || (!name.includes('.tmp-') && name !== keep)) rmSync(p, { recursive: true, force: true })
  }
}

export default async function globalSetup(_config: FullConfig): Promise<void> {
  assertBinary()
  const root = join(tmpdir(), 'livemon-e2e-media')
  const key = cacheKey()
  const dir = join(root, key)
  pruneCache(root, key)
  if (!complete(dir)) {
    const staging = `${dir}.tmp-${process.pid}`
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(staging, { recursive: true })
    const jobs = Object.entries(ALL_VIDEOS).sort(([, x], [, y]) => y.frames * y.width - x.frames * x.width)
    // Two at a time: the machine has two cores.
    const queue = [...jobs]
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await generate(join(staging, next[0]), next[1])
    }
    await Promise.all([worker(), worker()])
    writeFileSync(join(staging, BAD_FILE), 'This is a text file, not a video.\n'.repeat(64))
    if (complete(dir)) {
      // Another run finished the same set meanwhile; it may be using it.
      rmSync(staging, { recursive: true, force: true })
    } else {
      rmSync(dir, { recursive: true, force: true })
      renameSync(staging, dir)
    }
  }
  process.env.LIVEMON_E2E_MEDIA = dir
}
