// A thin C interface to cv::VideoCapture that reports grab() and
// retrieve() results and never lets a C++ exception escape into Go.
#ifndef LIVEMON_CAPTURE_H
#define LIVEMON_CAPTURE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void* LmCapture;

// lm_capture_open opens path with the FFmpeg backend; NULL if it cannot.
LmCapture lm_capture_open(const char* path);
// lm_capture_open_stream opens a network URL with the FFmpeg backend, the
// open and every read bounded by timeout_ms; NULL if it cannot. FFmpeg's
// demuxer options come from OPENCV_FFMPEG_CAPTURE_OPTIONS.
LmCapture lm_capture_open_stream(const char* url, int timeout_ms);
void lm_capture_close(LmCapture c);
// lm_capture_get returns the property, or -1 if OpenCV threw.
double lm_capture_get(LmCapture c, int prop);
// The following return 1 on success, 0 on failure, -1 if OpenCV threw.
int lm_capture_set(LmCapture c, int prop, double value);
int lm_capture_grab(LmCapture c);
// lm_capture_retrieve decodes the last grabbed frame into mat, a cv::Mat*.
int lm_capture_retrieve(LmCapture c, void* mat);

#ifdef __cplusplus
}
#endif

#endif
