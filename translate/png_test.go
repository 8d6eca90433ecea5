package translate

import (
	"image/png"
	"os"
	"testing"
)

// checkNonBlankPNG fails unless path is a PNG image with at least two distinct colours.
func checkNonBlankPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, a := img.At(x, y).RGBA(); [4]uint32{r, g, bl, a} != rgba(first) {
				return
			}
		}
	}
	t.Fatalf("%s is blank: every pixel is %v", path, first)
}

func rgba(c interface{ RGBA() (r, g, b, a uint32) }) [4]uint32 {
	r, g, b, a := c.RGBA()
	return [4]uint32{r, g, b, a}
}
