import '@testing-library/jest-dom/vitest'
import { cleanup } from '@testing-library/react'
import { afterEach, vi } from 'vitest'

afterEach(() => {
  cleanup()
  localStorage.clear()
})

// jsdom has no canvas: give every canvas a 2D context that records drawImage.
if (!('__livemonCanvasStub' in HTMLCanvasElement.prototype)) {
  Object.defineProperty(HTMLCanvasElement.prototype, '__livemonCanvasStub', { value: true })
  HTMLCanvasElement.prototype.getContext = vi.fn(function getContext() {
    return { drawImage: vi.fn() }
  }) as unknown as HTMLCanvasElement['getContext']
}
