// End-to-end tests of livemon in Debian's Chromium against the real server
// binary (bin/livemon, built by `make build`). See README.md in this folder.
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { defineConfig, devices } from '@playwright/test'

const CI = !!process.env.CI

/**
 * Videos of failed tests need an ffmpeg where Playwright looks for its own
 * build (revision from playwright-core/browsers.json), which we never
 * download. When it is missing, point Playwright's browser dir at
 * e2e/.cache/ms-playwright (gitignored) holding a link to Debian's ffmpeg,
 * which has the VP9 encoder Playwright uses. Chromium itself always comes
 * from /usr/bin/chromium (executablePath), so nothing else looks there.
 * Without any ffmpeg, videos are off and traces still have screenshots.
 */
function videoSupport(): boolean {
  const core = dirname(require.resolve('playwright-core/package.json'))
  const browsers = JSON.parse(readFileSync(join(core, 'browsers.json'), 'utf8')) as {
    browsers: { name: string; revision: string }[]
  }
  const ffmpegRevision = browsers.browsers.find((b) => b.name === 'ffmpeg')?.revision
  if (!ffmpegRevision) return false
  const browsersDir = process.env.PLAYWRIGHT_BROWSERS_PATH ?? join(homedir(), '.cache', 'ms-playwright')
  const own = join(browsersDir, `ffmpeg-${ffmpegRevision}`, 'ffmpeg-linux')
  if (existsSync(own)) return true
  if (!existsSync('/usr/bin/ffmpeg')) return false
  const dir = join(__dirname, '.cache', 'ms-playwright')
  const link = join(dir, `ffmpeg-${ffmpegRevision}`, 'ffmpeg-linux')
  if (!existsSync(link)) {
    mkdirSync(join(dir, `ffmpeg-${ffmpegRevision}`), { recursive: true })
    symlinkSync('/usr/bin/ffmpeg', link)
  }
  process.env.PLAYWRIGHT_BROWSERS_PATH = dir
  return true
}
const VIDEO = process.env.LIVEMON_E2E_VIDEO !== '0' && videoSupport()

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  globalSetup: './support/global-setup.ts',
  // Two cores, and the server decodes video for every camera: one test at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: CI,
  retries: CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]],
  use: {
    // Set by the webServer below from the line its wrapper prints.
    baseURL: process.env.LIVEMON_E2E_URL,
    locale: 'en-US',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    // Small, to leave the two cores to the server and the page under test.
    video: VIDEO ? { mode: 'retain-on-failure', size: { width: 640, height: 360 } } : 'off',
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }],
  webServer: {
    // The real binary on a free loopback port with a fresh temp data dir
    // (removed when it stops); see support/web-server.mjs.
    command: 'node support/web-server.mjs',
    cwd: '.',
    wait: { stdout: /livemon e2e server ready at (?<livemon_e2e_url>http:\/\/127\.0\.0\.1:\d+)/ },
    timeout: 30_000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 8_000 },
    stdout: 'ignore',
    stderr: 'pipe',
  },
})
