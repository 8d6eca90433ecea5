package safetensors

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// refHalf decodes binary16 bits from the format's definition, in float64 arithmetic.
func refHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	case 0:
		return sign * math.Ldexp(mant, -24) // 0.mant × 2^-14
	}
	return sign * math.Ldexp(1024+mant, exp-25) // 1.mant × 2^(exp-15)
}

// refBFloat16 decodes bfloat16 bits from the format's definition (bias 127, 7 mantissa bits).
func refBFloat16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>7) & 0xff
	mant := float64(h & 0x7f)
	switch exp {
	case 0xff:
		if mant != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	case 0:
		return sign * math.Ldexp(mant, -133) // 0.mant × 2^-126
	}
	return sign * math.Ldexp(128+mant, exp-134) // 1.mant × 2^(exp-127)
}

// sameFloat reports whether got is the float64 want (NaN matches NaN; zeros must agree in sign).
func sameFloat(got float32, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(float64(got))
	}
	return float64(got) == want && math.Signbit(float64(got)) == math.Signbit(want)
}

func TestFloat16ToFloat32AllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := Float16ToFloat32(h)
		if want := refHalf(h); !sameFloat(got, want) {
			t.Fatalf("Float16ToFloat32(%#04x) = %v, want %v", h, got, want)
		}
		// NaN payloads and signs survive a round trip; every value converts back to itself.
		if back := Float32ToFloat16(got); back != h {
			if !(math.IsNaN(float64(got)) && back&0x7c00 == 0x7c00 && back&0x3ff != 0 && back&0x8000 == h&0x8000) {
				t.Fatalf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x", h, back)
			}
		}
	}
}

func TestBFloat16ToFloat32AllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := BFloat16ToFloat32(h)
		if want := refBFloat16(h); !sameFloat(got, want) {
			t.Fatalf("BFloat16ToFloat32(%#04x) = %v, want %v", h, got, want)
		}
		if back := Float32ToBFloat16(got); back != h && !(math.IsNaN(float64(got)) && back|0x40 == h|0x40) {
			t.Fatalf("Float32ToBFloat16(BFloat16ToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

// refRound returns the bits of the value in table (sorted non-negative finite values and their
// bits, plus +Inf) nearest to |x|, ties to the even bit pattern, with x's sign. overflow is the
// magnitude at and above which the result is infinity (the format's largest finite value plus
// half an ulp, which rounds to even = infinity).
func refRound(x float64, vals []float64, bits []uint16, signBit uint16, overflow float64) uint16 {
	var sign uint16
	if math.Signbit(x) {
		sign = signBit
		x = -x
	}
	if x >= overflow {
		return sign | bits[len(bits)-1] // +Inf
	}
	i := sort.SearchFloat64s(vals, x) // vals[i-1] < x <= vals[i]
	if vals[i] == x {
		return sign | bits[i]
	}
	lo, hi := vals[i-1], vals[i]
	switch {
	case x-lo < hi-x:
		return sign | bits[i-1]
	case x-lo > hi-x:
		return sign | bits[i]
	case bits[i-1]&1 == 0:
		return sign | bits[i-1]
	}
	return sign | bits[i]
}

// table lists the non-negative finite values of a 16-bit format, ascending, then +Inf.
func table(decode func(uint16) float64, inf uint16) ([]float64, []uint16) {
	var vals []float64
	var bits []uint16
	for h := uint16(0); h < inf; h++ {
		vals = append(vals, decode(h))
		bits = append(bits, h)
	}
	return append(vals, math.Inf(1)), append(bits, inf)
}

// float32Probes returns float32 values that stress rounding: every half-way point between
// neighbouring 16-bit values and its float32 neighbours, plus random bit patterns.
func float32Probes(vals []float64) []float32 {
	var xs []float32
	for i := 1; i < len(vals)-1; i++ {
		mid := float32((vals[i-1] + vals[i]) / 2) // exact: the formats have far fewer bits than float32
		xs = append(xs, mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1))))
	}
	top := vals[len(vals)-2]
	xs = append(xs, float32(top), math.Nextafter32(float32(top), float32(math.Inf(1))), math.MaxFloat32, 1e-45, 0)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		xs = append(xs, math.Float32frombits(r.Uint32()))
	}
	n := len(xs)
	for i := range n {
		xs = append(xs, -xs[i])
	}
	return xs
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	vals, bits := table(refHalf, 0x7c00)
	overflow := 65504 + math.Ldexp(1, 4) // largest half + half an ulp (ulp 2^5)
	for _, x := range float32Probes(vals) {
		got := Float32ToFloat16(x)
		if math.IsNaN(float64(x)) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("Float32ToFloat16(NaN %#x) = %#04x, not NaN", math.Float32bits(x), got)
			}
			continue
		}
		if want := refRound(float64(x), vals, bits, 0x8000, overflow); got != want {
			t.Fatalf("Float32ToFloat16(%v = %#x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
}

func TestFloat32ToBFloat16Rounding(t *testing.T) {
	vals, bits := table(refBFloat16, 0x7f80)
	overflow := math.Ldexp(1, 128) - math.Ldexp(1, 120) + math.Ldexp(1, 119) // largest bf16 + half an ulp (ulp 2^120)
	for _, x := range float32Probes(vals) {
		got := Float32ToBFloat16(x)
		if math.IsNaN(float64(x)) {
			if got&0x7f80 != 0x7f80 || got&0x7f == 0 {
				t.Fatalf("Float32ToBFloat16(NaN %#x) = %#04x, not NaN", math.Float32bits(x), got)
			}
			continue
		}
		if want := refRound(float64(x), vals, bits, 0x8000, overflow); got != want {
			t.Fatalf("Float32ToBFloat16(%v = %#x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
}

func TestFloat8ToFloat32(t *testing.T) {
	// E4M3 (FN): bias 7, 3 mantissa bits, S.1111.111 is NaN, no infinities.
	for i := range 256 {
		v := byte(i)
		sign := 1.0
		if v&0x80 != 0 {
			sign = -1
		}
		e, m := int(v>>3)&0xf, float64(v&7)
		var want float64
		switch {
		case e == 15 && m == 7:
			want = math.NaN()
		case e == 0:
			want = sign * m / 8 * math.Pow(2, -6)
		default:
			want = sign * (1 + m/8) * math.Pow(2, float64(e-7))
		}
		if got := float8E4M3ToFloat32(v); !sameFloat(got, want) {
			t.Errorf("E4M3 %#02x = %v, want %v", v, got, want)
		}
		// E5M2: bias 15, 2 mantissa bits, IEEE-style infinities and NaN.
		e, m = int(v>>2)&0x1f, float64(v&3)
		switch {
		case e == 31 && m != 0:
			want = math.NaN()
		case e == 31:
			want = sign * math.Inf(1)
		case e == 0:
			want = sign * m / 4 * math.Pow(2, -14)
		default:
			want = sign * (1 + m/4) * math.Pow(2, float64(e-15))
		}
		if got := float8E5M2ToFloat32(v); !sameFloat(got, want) {
			t.Errorf("E5M2 %#02x = %v, want %v", v, got, want)
		}
		// E8M0: 2^(v-127), 0xFF is NaN.
		want = math.Pow(2, float64(i-127))
		if v == 0xff {
			want = math.NaN()
		}
		if got := float8E8M0ToFloat32(v); !sameFloat(got, want) {
			t.Errorf("E8M0 %#02x = %v, want %v", v, got, want)
		}
	}
	if got := float8E4M3ToFloat32(0x7e); got != 448 {
		t.Errorf("E4M3 max = %v, want 448", got)
	}
}
