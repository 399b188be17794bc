package fakecam

import (
	"bufio"
	"fmt"
	"io"
)

// WriteClip writes the clip a path serves as an Annex-B elementary stream
// (start codes before every NAL unit, parameter sets in band at each key
// frame), so the same video can be played from a file: ffmpeg -f h264 (or
// hevc) -i CLIP -c copy CLIP.mp4 makes it an upload without re-encoding.
func (r *RTSP) WriteClip(path string, w io.Writer) error {
	f, ok := r.feeds[path]
	if !ok {
		return fmt.Errorf("no clip at %q", path)
	}
	bw := bufio.NewWriter(w)
	for _, au := range f.clip.aus {
		for _, nalu := range au {
			if _, err := bw.Write([]byte{0, 0, 0, 1}); err != nil {
				return err
			}
			if _, err := bw.Write(nalu); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
