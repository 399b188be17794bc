// Package opencv is livemon's only user of OpenCV (through gocv and a small
// cgo shim around cv::VideoCapture): it opens and probes uploaded videos,
// reads and JPEG-encodes their frames for the decoder, and writes the
// marker-carrying test videos the tests and e2e suite play.
//
// Concurrency contract:
//   - A Source (from Opener.Open) is owned by one goroutine: none of its
//     methods may run concurrently, and Close must be called exactly once
//     by that owner. It holds one capture and one reused Mat.
//   - Opener, Probe and WriteVideo may be called from any goroutine; each
//     call works on its own capture or writer.
//   - Probe does its OpenCV work in a goroutine of its own and returns when
//     ctx ends even if that work has not: cgo calls cannot be interrupted,
//     so the goroutine finishes on its own (it checks ctx between frames)
//     and closes its capture itself.
//
// Errors meant for users are *media.Error values whose messages never
// contain a file path or raw OpenCV output.
package opencv
