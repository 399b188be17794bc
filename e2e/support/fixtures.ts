// Test fixtures: the API client, cameras that clean up after themselves,
// English UI with the marker reader in every page, and server processes
// owned by a test (for restarts and non-default flags).
import { randomBytes } from 'node:crypto'
import { test as base, expect, type BrowserContext, type Page, type TestInfo } from '@playwright/test'
import { Api, type CameraView } from './api'
import { MARKER_READER_SCRIPT } from './marker'
import { removeDir, startLivemon, tempDataDir } from './livemon.cjs'
import { startFakeCamera, type FakeCamera, type FakeCameraOptions } from './fake-camera'

/** Key of the UI language in localStorage (webapp/src/lib/i18n.ts). */
export const LANG_KEY = 'livemon.lang'
/** Key of the WebSocket session id in localStorage (webapp/src/lib/camera-socket.ts). */
export const SESSION_KEY = 'livemon.session'
/** Key of the paint path in localStorage (webapp/src/lib/frame-decoder.ts): `main` draws on the page. */
export const PAINT_KEY = 'livemon.paint'

/**
 * Where the app draws frames in a test's pages. The app's default is its
 * paint worker (the canvas handed to it with transferControlToOffscreen);
 * but a canvas whose worker paints it is read back (drawImage, the marker
 * reader) from its placeholder image, which Chromium updates when the page's
 * main thread gets to it and may show the previous picture for a moment
 * after the worker's paint was reported (what is on screen does not lag).
 * Specs that pair a paint's data-seq with the pixels read back therefore run
 * with `main` (the same decode worker, the page draws), the default here;
 * specs about the worker path say `test.use({ paint: 'worker' })`.
 */
export type PaintPath = 'main' | 'worker'

const INIT_SCRIPT = `
try { if (!localStorage.getItem(${JSON.stringify(LANG_KEY)})) localStorage.setItem(${JSON.stringify(LANG_KEY)}, 'en') } catch (e) {}
${MARKER_READER_SCRIPT}
`

/** English UI, the marker reader and the paint path in every page of the context. */
export async function prepareContext(context: BrowserContext, paint: PaintPath = 'main'): Promise<void> {
  await context.addInitScript({ content: INIT_SCRIPT })
  const setPaint =
    paint === 'main'
      ? `try { localStorage.setItem(${JSON.stringify(PAINT_KEY)}, 'main') } catch (e) {}`
      : `try { localStorage.removeItem(${JSON.stringify(PAINT_KEY)}) } catch (e) {}`
  await context.addInitScript({ content: setPaint })
}

/** A camera id that no other test uses. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

export interface Cameras {
  /** Creates a camera (removed after the test); uploads `video` when given and waits until it runs. */
  create(opts?: { prefix?: string; name?: string; video?: string; loop?: boolean; speed?: number }): Promise<CameraView>
  /** Registers an id created some other way (e.g. through the UI) for removal. */
  track(id: string): void
}

export interface LivemonProcess {
  readonly url: string
  readonly dataDir: string
  readonly api: Api
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>
  /** Starts it again on the same port with the same data dir. */
  start(): Promise<void>
  output(): string
}

export interface OwnServerOptions {
  /** Started with `--token`; the process's `api` sends it as a Bearer token (the browser must sign in). */
  token?: string
}

export interface OwnServer {
  /** A livemon process for this test only: fresh data dir, free port, `--demo=false` plus `args`. */
  launch(args?: string[], opts?: OwnServerOptions): Promise<LivemonProcess>
}

export interface Viewers {
  /**
   * Opens `url` in a page of a new browser context (its own localStorage,
   * so its own WebSocket session), like a second person watching.
   */
  open(url: string): Promise<Page>
}

export interface FakeCameras {
  /** Starts a `livemon fake-camera` for this test (stopped after it). */
  start(opts?: FakeCameraOptions): Promise<FakeCamera>
}

interface Fixtures {
  /** Where the app draws frames (see PaintPath). */
  paint: PaintPath
  api: Api
  cameras: Cameras
  ownServer: OwnServer
  viewers: Viewers
  fakeCameras: FakeCameras
}

export const test = base.extend<Fixtures>({
  paint: ['main', { option: true }],

  context: async ({ context, paint }, use) => {
    await prepareContext(context, paint)
    await use(context)
  },

  api: async ({ request, baseURL }, use) => {
    if (!baseURL) throw new Error('baseURL is not set: the webServer did not report its URL')
    await use(new Api(request, baseURL))
  },

  cameras: async ({ api }, use) => {
    const ids = new Set<string>()
    await use({
      track: (id) => void ids.add(id),
      async create(opts = {}) {
        const id = uniqueId(opts.prefix ?? 'cam')
        ids.add(id)
        let cam = await api.createCamera({ id, name: opts.name ?? id, loop: opts.loop ?? true, speed: opts.speed ?? 1 })
        if (opts.video) {
          await api.upload(id, opts.video)
          cam = await api.waitRunning(id)
        }
        return cam
      },
    })
    // Cameras keep decoding while they exist; remove them so later tests get the CPU.
    for (const id of ids) await api.deleteCamera(id).catch(() => undefined)
  },

  viewers: async ({ browser, baseURL, locale, viewport, paint }, use, testInfo) => {
    const contexts: BrowserContext[] = []
    await use({
      async open(url) {
        const ctx = await browser.newContext({ baseURL, locale, viewport })
        contexts.push(ctx)
        await prepareContext(ctx, paint)
        const page = await ctx.newPage()
        await page.goto(url)
        return page
      },
    })
    for (const [i, ctx] of contexts.entries()) {
      if (testInfo.status !== testInfo.expectedStatus) {
        for (const p of ctx.pages()) {
          const shot = await p.screenshot().catch(() => null)
          if (shot) await testInfo.attach(`viewer-${i + 1}.png`, { body: shot, contentType: 'image/png' })
        }
      }
      await ctx.close()
    }
  },

  fakeCameras: async ({}, use, testInfo) => {
    const started: FakeCamera[] = []
    await use({
      async start(opts) {
        const cam = await startFakeCamera(opts)
        started.push(cam)
        return cam
      },
    })
    for (const [i, cam] of started.entries()) {
      await cam.stop()
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach(`fake-camera-${i + 1}.log`, { body: cam.output(), contentType: 'text/plain' })
      }
    }
  },

  ownServer: async ({ playwright }, use, testInfo) => {
    const started: { proc: LivemonProcess; dataDir: string; stopAll: () => Promise<void> }[] = []
    await use({
      async launch(extra = [], opts = {}) {
        const dataDir = tempDataDir('livemon-e2e-own-')
        const args = opts.token ? [...extra, '--token', opts.token] : extra
        let handle = await startLivemon({ dataDir, extraArgs: args })
        let log = ''
        const request = await playwright.request.newContext({
          baseURL: handle.url,
          extraHTTPHeaders: opts.token ? { Authorization: `Bearer ${opts.token}` } : undefined,
        })
        const proc: LivemonProcess = {
          url: handle.url,
          dataDir,
          api: new Api(request, handle.url),
          async stop() {
            log += handle.output()
            await handle.stop()
          },
          async start() {
            handle = await startLivemon({ dataDir, port: handle.port, extraArgs: args })
          },
          output: () => log + handle.output(),
        }
        started.push({
          proc,
          dataDir,
          stopAll: async () => {
            await handle.stop()
            await request.dispose()
          },
        })
        return proc
      },
    })
    for (const s of started) {
      await s.stopAll()
      if (testInfo.status !== testInfo.expectedStatus) await attachLog(testInfo, s.proc)
      removeDir(s.dataDir)
    }
  },
})

async function attachLog(testInfo: TestInfo, proc: LivemonProcess): Promise<void> {
  await testInfo.attach(`livemon-${new URL(proc.url).port}.log`, { body: proc.output(), contentType: 'text/plain' })
}

export { expect }
