// The frame decode worker (frame-decoder.ts starts it): JPEG bytes in,
// ImageBitmap out, transferred back without a copy. Decoding here keeps the
// Blob and the decode hand-off off the page's main thread.

/** A request: the frame's JPEG bytes and the id to answer with. */
export interface DecodeRequest {
  id: number
  jpeg: Uint8Array
}

/** The answer: the decoded picture, or why there is none. */
export type DecodeResponse = { id: number; bitmap: ImageBitmap } | { id: number; error: string }

interface WorkerScope {
  onmessage: ((ev: MessageEvent<DecodeRequest>) => void) | null
  postMessage(msg: DecodeResponse, transfer?: Transferable[]): void
}

const scope = self as unknown as WorkerScope

scope.onmessage = (ev) => {
  const { id, jpeg } = ev.data
  createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' })).then(
    (bitmap) => scope.postMessage({ id, bitmap }, [bitmap]),
    (err: unknown) => scope.postMessage({ id, error: String(err) }),
  )
}
