// A small typed client for the livemon HTTP API (docs/api.md), for test
// setup and for checking server-side facts (epoch, position).
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { expect, type APIRequestContext, type APIResponse } from '@playwright/test'
import type { Camera, CameraList, CreateCameraInput, UpdateCameraInput, UploadResult } from '../../webapp/src/types/api'

/**
 * The camera JSON is the web app's type: one owner, compared with what the
 * server sends by server/internal/httpapi/contract_test.go.
 */
export type CameraView = Camera

async function json<T>(res: APIResponse, what: string): Promise<T> {
  if (!res.ok()) throw new Error(`${what}: HTTP ${res.status()} ${await res.text()}`)
  return (await res.json()) as T
}

export class Api {
  constructor(
    readonly request: APIRequestContext,
    readonly baseURL: string,
  ) {}

  url(path: string): string {
    return new URL(path, this.baseURL).toString()
  }

  async createCamera(input: CreateCameraInput): Promise<CameraView> {
    const res = await this.request.post(this.url('/api/cameras'), { data: input })
    return json(res, `create camera ${input.id ?? input.name}`)
  }

  async camera(id: string): Promise<CameraView> {
    return json(await this.request.get(this.url(`/api/cameras/${id}`)), `get camera ${id}`)
  }

  async cameras(): Promise<CameraView[]> {
    const body = await json<CameraList>(await this.request.get(this.url('/api/cameras')), 'list cameras')
    return body.cameras ?? []
  }

  async update(id: string, patch: UpdateCameraInput): Promise<CameraView> {
    return json(await this.request.patch(this.url(`/api/cameras/${id}`), { data: patch }), `update camera ${id}`)
  }

  async deleteCamera(id: string): Promise<void> {
    const res = await this.request.delete(this.url(`/api/cameras/${id}`))
    if (!res.ok() && res.status() !== 404) throw new Error(`delete camera ${id}: HTTP ${res.status()}`)
  }

  async control(id: string, action: 'start' | 'stop' | 'restart'): Promise<void> {
    const res = await this.request.post(this.url(`/api/cameras/${id}/${action}`))
    if (!res.ok()) throw new Error(`${action} camera ${id}: HTTP ${res.status()} ${await res.text()}`)
  }

  /** Uploads a file as multipart field `video` (streamed from disk). */
  async upload(id: string, file: string): Promise<UploadResult> {
    const res = await this.request.post(this.url(`/api/cameras/${id}/video`), {
      multipart: { video: createReadStream(file) },
      timeout: 120_000,
    })
    return json(res, `upload ${basename(file)} to ${id}`)
  }

  /** Waits until the camera reports `running`. */
  async waitRunning(id: string, timeout = 10_000): Promise<CameraView> {
    let last: CameraView | undefined
    await expect
      .poll(
        async () => {
          last = await this.camera(id)
          return last.state
        },
        { timeout, intervals: [100, 200, 250], message: `camera ${id} running` },
      )
      .toBe('running')
    return last!
  }
}
