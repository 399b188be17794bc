package opencv

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "capture.h"
*/
import "C"

import (
	"errors"
	"time"
	"unsafe"

	"gocv.io/x/gocv"
)

// gocv v0.31.0's VideoCapture.Grab discards grab()'s result and it has no
// Retrieve, so the end of a file cannot be told apart from a frame and a
// grabbed frame cannot be decoded on demand. capture wraps cv::VideoCapture
// directly for that; frames still land in gocv Mats.

// errOpenCV is returned when OpenCV threw an exception. Its text is
// deliberately generic: raw OpenCV messages never reach users.
var errOpenCV = errors.New("opencv raised an exception")

// capture is one open cv::VideoCapture. It is not safe for concurrent use.
type capture struct {
	p C.LmCapture
}

// openCapture opens path; ok is false if OpenCV cannot open it as a video.
func openCapture(path string) (*capture, bool) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	p := C.lm_capture_open(cs)
	if p == nil {
		return nil, false
	}
	return &capture{p: p}, true
}

// openStreamCapture opens a network URL, the open and each read bounded by
// timeout.
func openStreamCapture(url string, timeout time.Duration) (*capture, bool) {
	cs := C.CString(url)
	defer C.free(unsafe.Pointer(cs))
	p := C.lm_capture_open_stream(cs, C.int(timeout.Milliseconds()))
	if p == nil {
		return nil, false
	}
	return &capture{p: p}, true
}

func (c *capture) close() {
	if c.p != nil {
		C.lm_capture_close(c.p)
		c.p = nil
	}
}

func (c *capture) get(prop gocv.VideoCaptureProperties) float64 {
	return float64(C.lm_capture_get(c.p, C.int(prop)))
}

func result(r C.int) (bool, error) {
	switch r {
	case 1:
		return true, nil
	case 0:
		return false, nil
	default:
		return false, errOpenCV
	}
}

func (c *capture) set(prop gocv.VideoCaptureProperties, v float64) (bool, error) {
	return result(C.lm_capture_set(c.p, C.int(prop), C.double(v)))
}

// grab advances to the next frame; false means there is none (end of file
// or a read error: OpenCV does not tell them apart).
func (c *capture) grab() (bool, error) { return result(C.lm_capture_grab(c.p)) }

// retrieve decodes the last grabbed frame into m.
func (c *capture) retrieve(m *gocv.Mat) (bool, error) {
	return result(C.lm_capture_retrieve(c.p, unsafe.Pointer(m.Ptr())))
}
