package isolate

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Frames travel from a decode child to its parent through shared memory
// when they fit, not through the pipe: a pipe copies every JPEG into
// pages the kernel allocates, charges and frees, and out again, which on
// a 720p30 camera cost more than everything else isolation adds. The
// parent creates a memory file (memfd) of frameBufferSize bytes and hands
// it to the child as file descriptor frameBufferFD; both map it. The child
// copies a JPEG into it and replies with statusShared and its length; the
// parent copies it out before it sends its next request, so one buffer
// serves both and the child never writes while the parent reads. Pages are
// only used as far as frames reach. A larger JPEG, or a child without the
// buffer, goes through the pipe as before.
const (
	frameBufferSize = 16 << 20
	frameBufferFD   = 3 // the first of exec.Cmd.ExtraFiles
)

// frameBuffer is one side's mapping of the shared memory.
type frameBuffer struct {
	mem []byte
}

// newFrameBuffer creates the shared memory, maps it read-only for the
// parent and returns the file to hand to the child (the caller closes it
// once the child has started).
func newFrameBuffer() (*frameBuffer, *os.File, error) {
	fd, err := unix.MemfdCreate("livemon-frames", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "livemon-frames")
	if err := unix.Ftruncate(fd, frameBufferSize); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("size frame buffer: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, frameBufferSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("map frame buffer: %w", err)
	}
	return &frameBuffer{mem: mem}, f, nil
}

// openFrameBuffer maps, in the child, the buffer its parent handed it as
// frameBufferFD, size bytes long.
func openFrameBuffer(size int) (*frameBuffer, error) {
	if size <= 0 {
		return nil, nil
	}
	mem, err := unix.Mmap(frameBufferFD, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map frame buffer: %w", err)
	}
	_ = unix.Close(frameBufferFD) // the mapping keeps the memory
	return &frameBuffer{mem: mem}, nil
}

// put copies b into the buffer if it fits.
func (fb *frameBuffer) put(b []byte) bool {
	if fb == nil || len(b) > len(fb.mem) {
		return false
	}
	copy(fb.mem, b)
	return true
}

// take returns prefix followed by a copy of the buffer's first n bytes,
// in one new slice, or false if n is out of range (the child is not to be
// trusted with a length).
func (fb *frameBuffer) take(prefix []byte, n int) ([]byte, bool) {
	if fb == nil || n < 0 || n > len(fb.mem) {
		return nil, false
	}
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	copy(b[len(prefix):], fb.mem[:n])
	return b, true
}

// close unmaps the buffer. Nothing may use it after.
func (fb *frameBuffer) close() {
	if fb != nil && fb.mem != nil {
		_ = unix.Munmap(fb.mem)
		fb.mem = nil
	}
}
