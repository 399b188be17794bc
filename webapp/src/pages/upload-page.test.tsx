import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, listCameras, uploadVideo, type UploadOptions } from '@/api/client'
import type { Camera, UploadResult } from '@/types/api'
import { renderWithProviders } from '@/test/render'
import { UploadPage } from '@/pages/upload-page'

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  return { ...actual, uploadVideo: vi.fn(), listCameras: vi.fn() }
})

const demo = { id: 'demo', name: 'Demo' } as Camera
const file = () => new File([new Uint8Array(2048)], 'clip.mp4', { type: 'video/mp4' })

beforeEach(() => {
  vi.mocked(listCameras).mockResolvedValue([demo])
  vi.mocked(uploadVideo).mockReset()
})

async function chooseAndUpload(lang: 'en' | 'ko' = 'en') {
  const user = userEvent.setup()
  renderWithProviders(<UploadPage />, { route: '/upload', lang })
  await screen.findByRole('option', { name: 'Demo (demo)' })
  await user.upload(screen.getByLabelText(lang === 'en' ? 'Video file' : '동영상 파일'), file())
  await user.click(screen.getByRole('button', { name: lang === 'en' ? 'Upload' : '업로드' }))
  return user
}

describe('UploadPage errors', () => {
  it.each([
    [413, 'too_large', 'The file is too large for the server.'],
    [415, 'unsupported_media', 'This file is not a video the server can read.'],
    [422, 'unusable_video', 'The video cannot be played'],
    [507, 'disk_full', 'The server is out of disk space.'],
    [0, 'unreachable', 'The server cannot be reached.'],
    [0, 'connection_lost', 'The connection was lost in the middle of the upload.'],
    [0, 'timeout', 'The upload timed out.'],
    [0, 'aborted', 'The upload was cancelled.'],
    [503, 'upload_limit', 'Too many uploads are running right now.'],
    [503, 'camera_limit', 'The server already has as many cameras as it allows.'],
    [408, 'request_timeout', 'The request stopped arriving at the server'],
  ])('HTTP %i %s → a clear message in role=alert', async (status, code, text) => {
    vi.mocked(uploadVideo).mockRejectedValue(new ApiError(status, code, 'detail'))
    await chooseAndUpload()
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent(text)
    expect(alert).toHaveTextContent('The camera keeps playing its previous video.')
    expect(uploadVideo).toHaveBeenCalledWith('demo', expect.any(File), expect.anything())
  })

  it.each([
    ['a live camera', { source: { kind: 'rtsp', url: 'rtsp://cam/x', transport: 'tcp' }, video: null }, 'The camera keeps showing its live source.'],
    ['a camera without a video', { source: { kind: 'file', url: '', transport: '' }, video: null }, ''],
  ])('after a failed upload to %s, says what it keeps showing', async (_, fields, keeps) => {
    vi.mocked(listCameras).mockResolvedValue([{ ...demo, ...fields } as Camera])
    vi.mocked(uploadVideo).mockRejectedValue(new ApiError(415, 'unsupported_media', 'detail'))
    await chooseAndUpload()
    const alert = await screen.findByRole('alert')
    expect(alert).not.toHaveTextContent('previous video')
    if (keeps) expect(alert).toHaveTextContent(keeps)
    else expect(alert).toHaveTextContent(/^This file is not a video the server can read\.$/)
  })

  it('says when to try again when the server sent Retry-After', async () => {
    vi.mocked(uploadVideo).mockRejectedValue(new ApiError(503, 'upload_limit', 'busy', 20))
    await chooseAndUpload()
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('Too many uploads are running right now. Try again when one has finished. Try again in 20 s.')
    expect(alert).toHaveAttribute('data-code', 'upload_limit')
  })

  it('speaks Korean too', async () => {
    vi.mocked(uploadVideo).mockRejectedValue(new ApiError(507, 'disk_full', 'no space'))
    await chooseAndUpload('ko')
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('서버의 디스크 공간이 부족합니다.')
    expect(alert).toHaveTextContent('카메라는 이전 동영상을 계속 재생합니다.')
  })
})

describe('UploadPage flow', () => {
  it('shows progress, can be cancelled, and reports the cancel', async () => {
    vi.mocked(uploadVideo).mockImplementation(
      (_id: string, _f: Blob, opts?: UploadOptions) =>
        new Promise<UploadResult>((_resolve, reject) => {
          opts?.onProgress?.({ loaded: 1024, total: 2048, percent: 50, bytesPerSecond: 1024 })
          opts?.signal?.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'cancelled')))
        }),
    )
    const user = await chooseAndUpload()
    const bar = await screen.findByRole('progressbar')
    expect(bar).toHaveAttribute('aria-valuenow', '50')
    expect(screen.getByText(/50% · 1.0 KB of 2.0 KB · 1.0 KB\/s/)).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Cancel upload' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('The upload was cancelled.')
    expect(screen.queryByRole('progressbar')).toBeNull()
  })

  it('on success links to the live view of the camera', async () => {
    vi.mocked(uploadVideo).mockResolvedValue({
      upload: 'u_1',
      probe: { width: 640, height: 360, fps: 30, frames: 300, duration: 10 },
      camera: { ...demo },
    })
    await chooseAndUpload()
    const done = await screen.findByRole('status')
    expect(done).toHaveTextContent('Upload complete')
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(within(done).getByRole('link', { name: 'Watch demo live' })).toHaveAttribute('href', '/cameras/demo')
  })

  it('uploads to a new camera id typed by the user, and validates it', async () => {
    vi.mocked(uploadVideo).mockResolvedValue({
      upload: 'u_2',
      probe: { width: 640, height: 360, fps: 30, frames: 300, duration: 10 },
      camera: { ...demo, id: 'lobby' },
    })
    const user = userEvent.setup()
    renderWithProviders(<UploadPage />, { route: '/upload' })
    await screen.findByRole('option', { name: 'Demo (demo)' })
    await user.selectOptions(screen.getByLabelText('Target camera'), '__new__')
    await user.type(screen.getByLabelText('New camera ID'), 'bad id!')
    await user.upload(screen.getByLabelText('Video file'), file())
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('A camera ID is 1–64 letters')
    expect(uploadVideo).not.toHaveBeenCalled()

    await user.clear(screen.getByLabelText('New camera ID'))
    await user.type(screen.getByLabelText('New camera ID'), 'lobby')
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByRole('link', { name: 'Watch lobby live' })).toHaveAttribute('href', '/cameras/lobby')
    expect(uploadVideo).toHaveBeenCalledWith('lobby', expect.any(File), expect.anything())
  })
})

describe('UploadPage with a live camera', () => {
  it('says the upload replaces the camera URL, only for a live camera', async () => {
    vi.mocked(listCameras).mockResolvedValue([
      demo,
      { id: 'gate', name: 'Gate', source: { kind: 'mjpeg', url: 'http://admin:xxxxx@cam.local/stream', transport: '' } } as Camera,
    ])
    const user = userEvent.setup()
    renderWithProviders(<UploadPage />, { route: '/upload?camera=demo' })
    await screen.findByRole('option', { name: 'Gate (gate)' })
    expect(screen.queryByText(/replaces that URL/)).toBeNull()
    await user.selectOptions(screen.getByLabelText('Target camera'), 'gate')
    expect(
      screen.getByText('This camera plays http://admin:xxxxx@cam.local/stream now; the uploaded video replaces that URL.'),
    ).toBeInTheDocument()
  })
})
