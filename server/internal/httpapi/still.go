package httpapi

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
)

// stoppedJPEG is the picture the legacy stream route shows for a stopped
// camera, so the earlier prototype's <img> shows "stopped" (a grey frame
// with a stop square) instead of a broken image or a camera a viewer
// started. It is computed once and never changes.
var stoppedJPEG = sync.OnceValue(func() []byte {
	const w, h, side = 640, 360, 96
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.Gray{Y: 48}
			if x >= (w-side)/2 && x < (w+side)/2 && y >= (h-side)/2 && y < (h+side)/2 {
				c.Y = 200
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return buf.Bytes()
})
