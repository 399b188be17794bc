package isolate

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// maxPending is the most of an unfinished line a redactor keeps; a longer
// line is written out in pieces (a secret cut by the split may then show,
// so pieces end only at this size, far past any FFmpeg log line).
const maxPending = 4096

// redactor copies a stream child's standard error line by line, with
// every secret of its URL replaced by xxxxx. exec.Cmd's copying goroutine
// is its only writer; the lock only guards against misuse.
type redactor struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
	pending []byte
}

// newRedactor returns w itself when there is nothing to hide.
func newRedactor(w io.Writer, secrets []string) io.Writer {
	r := &redactor{w: w}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	if len(r.secrets) == 0 {
		return w
	}
	return r
}

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, p...)
	end := bytes.LastIndexByte(r.pending, '\n') + 1
	if end == 0 && len(r.pending) >= maxPending {
		end = len(r.pending)
	}
	if end > 0 {
		line := r.pending[:end]
		for _, s := range r.secrets {
			line = bytes.ReplaceAll(line, s, []byte("xxxxx"))
		}
		if _, err := r.w.Write(line); err != nil {
			return 0, err
		}
		r.pending = append(r.pending[:0], r.pending[end:]...)
	}
	return len(p), nil
}

// stderr is where the Opener's children write their standard error.
func (o Opener) stderr() io.Writer {
	if o.Stderr != nil {
		return o.Stderr
	}
	return os.Stderr
}
