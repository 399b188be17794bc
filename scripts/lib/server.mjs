// A fresh livemon server with generated cameras, for the scripts beside
// this folder (screenshots, heap soak). Loopback only.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const root = new URL('../..', import.meta.url).pathname
export const bin = join(root, 'bin/livemon')

export const chromiumOptions = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
}

/** Starts bin/livemon on a random loopback port with a temp data dir. */
export async function startServer(extraArgs = []) {
  const port = 18000 + Math.floor(Math.random() * 1000)
  const base = `http://127.0.0.1:${port}`
  const dir = mkdtempSync(join(tmpdir(), 'livemon-script-'))
  const proc = spawn(bin, ['--addr', `127.0.0.1:${port}`, '--data', join(dir, 'data'), ...extraArgs], { stdio: 'ignore' })
  for (let i = 0; ; i++) {
    if (i > 300) throw new Error('server did not start within 30 s')
    try {
      if ((await fetch(`${base}/healthz`)).ok) break
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    base,
    dir,
    /** Generates a marker video with gen-video and returns its path. */
    video(name, args) {
      const file = join(dir, name)
      execFileSync(bin, ['gen-video', '--out', file, ...args])
      return file
    },
    /** Uploads a generated video as camera id and names it. */
    async addCamera(id, name, videoId) {
      const file = this.video(`${id}.avi`, ['--video-id', String(videoId), '--frames', '300', '--label', name])
      const form = new FormData()
      form.append('video', new Blob([readFileSync(file)]), `${id}.avi`)
      const res = await fetch(`${base}/api/cameras/${id}/video`, { method: 'POST', body: form })
      if (!res.ok) throw new Error(`upload ${id}: ${res.status}`)
      await fetch(`${base}/api/cameras/${id}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      })
    },
    stop() {
      proc.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
