// Package marker draws and reads machine-readable frame markers: two rows
// of black and white cells at the top of a picture that say which test
// video and which frame index it shows, in blocks large enough to survive
// JPEG compression and scaling.
//
// The layout is a contract shared with the e2e tests' TypeScript reader;
// change it only together with that reader.
//
// For a W x H picture (origin at its top-left corner):
//
//   - There are 24 cells across the full width. Pixel column x belongs to
//     cell i = floor(x*24/W), so cell i spans [i*W/24, (i+1)*W/24) in
//     real-valued coordinates.
//   - Row 1 spans y in [0, H/8), row 2 spans [H/8, 2H/8): pixel row y is in
//     row 1 if floor(y*8/H) == 0 and in row 2 if it is 1. The rest of the
//     picture is free for content.
//   - Row 1 carries 24 bits, most significant bit first: cells 0-7 are the
//     video id (0-255) and cells 8-23 the frame index modulo 65536.
//   - Row 2 carries the bitwise complement of row 1, cell by cell, as a
//     validity check.
//   - A 1 bit is white (255,255,255), a 0 bit black (0,0,0).
//
// Reading: for each cell take the mean luminance (0.299 R + 0.587 G +
// 0.114 B, 8-bit scale) of its central region, 30% of the cell's width by
// 30% of the row's height around the cell's centre ((i+0.5)*W/24,
// (r+0.5)*H/8), at least one pixel each way. A mean of 128 or more is a 1
// bit. The marker is valid only if every row-2 cell is the complement of
// the row-1 cell above it.
//
// Concurrency: the package has no state; Draw must not race with other
// writers of the same image, Read only reads.
package marker

import (
	"image"
	"image/color"
)

const (
	// Cells is the number of cells in a row.
	Cells = 24
	// RowDivisor: each row is H/RowDivisor pixels tall.
	RowDivisor = 8
	// VideoBits and FrameBits are the field widths of row 1.
	VideoBits = 8
	FrameBits = 16
	// sampleFraction is the size of the sampled central region relative
	// to a cell.
	sampleFraction = 0.30
	threshold      = 128
)

// Bits returns the 24 row-1 bits for video and frame, most significant
// first: the video id modulo 256 followed by the frame index modulo 65536.
func Bits(video, frame int) uint32 {
	return uint32(video&0xFF)<<FrameBits | uint32(frame&0xFFFF)
}

func bit(bits uint32, cell int) bool { return bits>>(Cells-1-cell)&1 == 1 }

// Draw paints the marker for video and frame over the top quarter of img.
func Draw(img *image.RGBA, video int, frame int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return
	}
	bits := Bits(video, frame)
	for y := 0; y < h; y++ {
		row := y * RowDivisor / h
		if row > 1 {
			break
		}
		line := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			one := bit(bits, x*Cells/w)
			if row == 1 {
				one = !one
			}
			var v uint8
			if one {
				v = 255
			}
			p := line[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = v, v, v, 255
		}
	}
}

// Read decodes the marker in img. ok is false when the picture carries no
// valid marker.
func Read(img image.Image) (video, frame int, ok bool) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < Cells || h < RowDivisor {
		return 0, 0, false
	}
	var bits uint32
	for i := 0; i < Cells; i++ {
		one := meanLuma(img, b, w, h, i, 0) >= threshold
		two := meanLuma(img, b, w, h, i, 1) >= threshold
		if one == two {
			return 0, 0, false
		}
		bits <<= 1
		if one {
			bits |= 1
		}
	}
	return int(bits >> FrameBits), int(bits & 0xFFFF), true
}

// sampleRect returns the central sample region of cell i in row r,
// relative to the picture's origin.
func sampleRect(w, h, i, r int) image.Rectangle {
	cw := float64(w) / Cells
	rh := float64(h) / RowDivisor
	cx := (float64(i) + 0.5) * cw
	cy := (float64(r) + 0.5) * rh
	hw := max(sampleFraction*cw/2, 0.5)
	hh := max(sampleFraction*rh/2, 0.5)
	x0, x1 := int(cx-hw+0.5), int(cx+hw+0.5)
	y0, y1 := int(cy-hh+0.5), int(cy+hh+0.5)
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		y1 = y0 + 1
	}
	return image.Rect(x0, y0, min(x1, w), min(y1, h))
}

func meanLuma(img image.Image, b image.Rectangle, w, h, i, r int) int {
	s := sampleRect(w, h, i, r).Add(b.Min)
	var sum, n int
	if yc, isYCbCr := img.(*image.YCbCr); isYCbCr {
		// JPEG decodes to YCbCr: the Y plane is the luminance.
		for y := s.Min.Y; y < s.Max.Y; y++ {
			for x := s.Min.X; x < s.Max.X; x++ {
				sum += int(yc.Y[yc.YOffset(x, y)])
				n++
			}
		}
		return sum / max(n, 1)
	}
	for y := s.Min.Y; y < s.Max.Y; y++ {
		for x := s.Min.X; x < s.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			sum += (299*int(c.R) + 587*int(c.G) + 114*int(c.B)) / 1000
			n++
		}
	}
	return sum / max(n, 1)
}
