#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

#include "capture.h"

LmCapture lm_capture_open(const char* path) {
    cv::VideoCapture* cap = nullptr;
    try {
        cap = new cv::VideoCapture();
        // The FFmpeg backend only: the image-sequence backend would read
        // printf patterns in the name as a series of files.
        if (cap->open(path, cv::CAP_FFMPEG) && cap->isOpened()) {
            return cap;
        }
    } catch (...) {
    }
    delete cap;
    return nullptr;
}

LmCapture lm_capture_open_stream(const char* url, int timeout_ms) {
    cv::VideoCapture* cap = nullptr;
    try {
        cap = new cv::VideoCapture();
        std::vector<int> params = {
            cv::CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
            cv::CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms,
        };
        if (cap->open(url, cv::CAP_FFMPEG, params) && cap->isOpened()) {
            return cap;
        }
    } catch (...) {
    }
    delete cap;
    return nullptr;
}

void lm_capture_close(LmCapture c) {
    try {
        delete static_cast<cv::VideoCapture*>(c);
    } catch (...) {
    }
}

double lm_capture_get(LmCapture c, int prop) {
    try {
        return static_cast<cv::VideoCapture*>(c)->get(prop);
    } catch (...) {
        return -1;
    }
}

int lm_capture_set(LmCapture c, int prop, double value) {
    try {
        return static_cast<cv::VideoCapture*>(c)->set(prop, value) ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

int lm_capture_grab(LmCapture c) {
    try {
        return static_cast<cv::VideoCapture*>(c)->grab() ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

int lm_capture_retrieve(LmCapture c, void* mat) {
    try {
        cv::Mat* m = static_cast<cv::Mat*>(mat);
        if (!static_cast<cv::VideoCapture*>(c)->retrieve(*m)) {
            return 0;
        }
        return m->empty() ? 0 : 1;
    } catch (...) {
        return -1;
    }
}
