// Package isolate runs livemon's video decoding (OpenCV and FFmpeg, which
// are C code) in child processes of the livemon binary, so a file that
// makes the decoder crash, hang or run away costs one camera a restart
// instead of taking the server, every camera and every viewer down.
//
// The parent side implements the decoder's and the camera manager's
// interfaces, so nothing above them changes:
//
//   - Opener (a decoder.Opener and decoder.ContextOpener): Open starts
//     "livemon decode-child" and returns a decoder.Source (and
//     decoder.GrabEncoder) whose methods are requests to that child over
//     its stdin and stdout. Pacing, looping, lazy encoding and the error
//     backoff stay in package decoder.
//   - Prober (a camera.Prober): Probe runs "livemon probe-child PATH" and
//     kills it when ctx ends, so an upload's probe can always be abandoned.
//   - Scaler (a decoder.Scaler): Scale has a camera's JPEG scaled down
//     (decoded at a reduced size, scaled, encoded) in a scaler child, a
//     decode child that opens nothing and serves scale requests; at most
//     ScalerConfig.Children at once, started on first use, gone after
//     Idle unused, restarted after a backoff when one fails. It makes the
//     grid rendition of passthrough (HTTP MJPEG and snapshot) cameras.
//
// The child side is DecodeChild and ProbeChild, the bodies of those hidden
// subcommands (ServeChild and ServeProbe are their testable cores). This
// package does not import OpenCV: cmd/livemon hands them the opencv
// Opener and Probe, and tests hand them package synth's pure-Go ones.
//
// # Files
//
// A file's prefix says which process runs its code, so the two ends of the
// protocol cannot be confused:
//
//   - parent_opener.go: Opener, which hands out sources (spare or freshly
//     started children) and opens the file in them.
//   - parent_source.go: source, the decoder.Source whose calls are
//     requests and replies to one child, with read-ahead and the time
//     limit of every exchange.
//   - parent_process.go: starting a child (command line, environment,
//     pipes, frame buffer), the process handle that reaps it, and how its
//     exit is described.
//   - parent_prober.go: Prober, one probe child per upload.
//   - parent_spares.go: Spares, decode children started ahead of need.
//   - parent_scaler.go: Scaler, the pool of scaler children.
//   - child_main.go: DecodeChild and ProbeChild, the subcommands' bodies,
//     and the child's flags.
//   - child_serve.go: ServeChild and ServeProbe, the loops that answer the
//     parent, and the pipe sizing.
//   - child_limits.go: how a child applies its Limits to itself.
//   - child_fault.go: the test-only fault switch.
//   - protocol.go, protocol_scale.go, shm.go, limits.go: what both sides
//     share (wire format, the scale op's, the shared frame buffer, Limits
//     and their flags).
//
// # Concurrency
//
// Opener and Prober may be used from any goroutine; every Open and every
// Probe starts its own child. A Source belongs to one goroutine, as
// decoder.Source requires; only the ctx given to OpenContext acts on it
// from elsewhere (it kills the child).
//
// # Faults
//
// A call on a Source fails, with an error wrapping decoder.ErrSourceBroken
// and a *media.Error whose message is safe to show, when the child exits
// or crashes, sends a reply that is not well formed, does not answer
// within Opener.CallTimeout (default decoder.StallTimeout, 20 s), or when
// the OpenContext ctx ends. The child is then killed if still alive and
// always reaped (cmd.Wait) before the call returns; the Source stays
// failed and Close only releases the pipes. The decoder reacts like to any
// read error: state error with that message, retry after its backoff, and
// reopen at the timeline's current position (same epoch, larger seq).
// Close asks the child to close its file and exit, kills it if it has not
// exited within 2 s, and reaps it: no child outlives its Source.
//
// Children die with the server: they are started with a parent-death
// signal (SIGKILL, delivered also when the server itself is SIGKILLed) and
// in their own process group (a terminal's Ctrl-C reaches only the server,
// which then closes them in order), and a decode child also exits when its
// stdin reaches EOF. The parent-death signal is tied to the thread that
// started the child; Go only ends threads of goroutines that exit while
// locked to one, which livemon's decoders never do.
//
// # Resource limits
//
// The parent passes Limits to the child as flags and the child applies
// them to itself before it opens anything: an address-space limit
// (RLIMIT_AS, default 4 GiB; skipped in race-detector builds, which
// reserve terabytes of address space), a CPU-time rate limit and no core
// dumps. The rate limit is MaxCPU per CPUWindow (default: half the
// machine's cores, at least one, over a minute): the child sets RLIMIT_CPU
// to the CPU it has used plus MaxCPU, and moves it forward so at the start
// of every window. A child that uses more within a window gets SIGXCPU and
// exits with status ExitCPULimit (the parent reports "reached its
// CPU-time limit" and retries after its backoff); one that stays within
// it plays for as long as it is watched, however much CPU that adds up to.
// Before a child playing a file reaches its memory limit, it is replaced
// (a stream's child is worn the same way; package live reconnects it in a
// fresh child):
// once its resident memory passes Limits.RecycleMemory (default three
// quarters of the limit, 3 GiB; read from /proc at most once a second)
// and a spare is ready, its source reports itself worn
// (decoder.Recycler), and the decoder opens the file in a fresh child at
// the timeline's position for the next frame and closes the old one: no
// error state, no backoff, the same epoch and the seqs going on, and no
// frame skipped when a spare is ready (TestWornChildIsReplaced). A leak
// that would take a child to the limit after hours costs nothing visible.
// Children also get MALLOC_ARENA_MAX=2 (unless set), so glibc's per-thread
// heaps, 64 MiB of address space each, cannot exhaust the address-space
// limit on a machine with many cores, and do not get the server's LIVEMON_*
// environment (the access token may be there), the fault switch aside.
//
// This isolates faults, not privileges: a child runs as the server's user
// and could read what the server can. Confining it (seccomp, Landlock, a
// separate user) would be the next step.
//
// # Protocol (decode child)
//
// All integers are big-endian. The child serves requests in order, one
// reply per request. The parent has at most two requests outstanding: after
// a frame reply it sends the next frame request at once (read-ahead, so the
// child decodes while the parent sleeps until that frame is due) and reads
// its reply when it needs a frame, or before any other request.
//
//	request: op (1 byte) | length (uint32) | payload (length bytes, at most 64 KiB)
//	reply:   op (1 byte, echoes the request's) | status (1 byte) | length (uint32) | payload (at most 128 MiB)
//
//	op         request payload        OK reply payload
//	'O' open   file path (UTF-8)      video info, see below
//	'G' grab   -                      -           (status EOF at the end of the file)
//	'E' encode sizes                  work | JPEGs (the frame last grabbed)
//	'F' frame  sizes                  work | JPEGs (grab, then encode: one round trip; EOF as grab)
//	'S' seek   frame (int64)          -
//	'C' close  -                      -           (then the child exits)
//	'J' scale  scale request          scaled JPEG (no open needed)
//
//	status: 0 OK, 1 EOF, 2 error; an error's payload is kind (1 byte:
//	a media.Kind, or 255 for an error without one) followed by its message.
//	video info: width (uint32) | height (uint32) | fps (float64 bits) |
//	frames (int64) | duration (int64 ns) | codec (rest, UTF-8)
//	work: the child's time for the request (uint64 ns), which the
//	parent reports as the frame's encode time (decoder.EncodeTimer).
//	sizes: quality (1 byte) | 1 to 4 widths (uint16 each): one JPEG per
//	width, 0 for the full picture, n > 0 for the picture scaled down to at
//	most n pixels wide (decoder.SizedEncoder; the child decodes the frame
//	once for all of them and for later encodes of the same frame).
//	JPEGs: for each width, length (uint32) | JPEG (must start FF D8).
//	Legacy form: sizes of the quality alone asks for the full picture and
//	the reply is work | JPEG without a length; the parent no longer sends it.
//
//	scale request: quality (1 byte) | width (uint16) | JPEG (the rest; the
//	only request allowed above 64 KiB: up to 16 MiB, an MJPEG part's limit).
//	scaled JPEG: work (uint64 ns) | width | height | decoded width |
//	decoded height (uint16 each) | JPEG (must start FF D8). The child
//	scales with its opener's ScaleJPEG (JPEGScaler; the opencv Opener:
//	IMREAD_REDUCED_COLOR_2/4/8, the largest whose picture still covers
//	the scaled size, then area interpolation to media.ScaledSize); a JPEG
//	it cannot decode is an error reply and the child serves on.
//
// The first request must be open (or scale); the child serves until close
// or until its stdin ends. The JPEG of an encode reply is read straight into the
// slice Encode returns: one allocation and no copy beyond the pipe read.
//
// Both ends of both pipes block in the kernel, outside Go's poller (whose
// thread would wake for every reply arriving while the decoder sleeps);
// a call's time limit is a timer that kills the child. The child runs its
// Go code on one processor (GOMAXPROCS=1 unless set): its loop only
// waits on a pipe, and the decoding runs in C threads.
//
// # Protocol (probe child)
//
// "probe-child [limit flags] -- PATH" writes one JSON object to stdout and
// exits 0: {"info": {"width", "height", "fps", "frames", "duration_ns",
// "codec"}} or {"error": {"kind": K, "message": "..."}}, where the
// message is the *media.Error's user-safe text. No output (a crash) or a
// non-zero exit without output counts as a video that cannot be used.
//
// # Fault switch (tests only)
//
// When the environment variable LIVEMON_CHILD_FAULT is set, a child
// misbehaves on purpose; it exists so tests can prove the parent copes,
// and nothing in livemon sets it. Its value is KIND or KIND:N, where N
// (default 0) is the number of frames a decode child encodes before the
// fault strikes at its next request (a probe child ignores N):
//
//	crash    the child kills itself with SIGSEGV, as a segfault in C would
//	hang     the child stops answering (sleeps) and ignores its stdin
//	garbage  the child writes bytes that are not a reply, then serves on
//
// The server (cmd/livemon) leaves the variable to its children's
// environment like any other; an operator has no reason to set it.
package isolate
