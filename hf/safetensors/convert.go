package safetensors

import (
	"encoding/binary"
	"math"
)

// Float16ToFloat32 converts IEEE 754 binary16 bits to float32. The conversion is exact:
// subnormals become normal float32 values, and infinities and NaN payloads are kept.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant × 2^-24; normalise it
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToFloat16 converts f to IEEE 754 binary16 bits, rounding to nearest with ties to
// even. Values too large become infinity, values too small become (signed) zero or subnormals,
// and NaN stays NaN (quiet, keeping the top payload bits).
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal result (or zero)
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		mant |= 0x800000 // the implicit bit (float32 subnormals land in e < -10)
		shift := uint32(14 - e)
		return sign | uint16(roundShift(mant, shift))
	}
	// Rounding may carry into the exponent, and from the largest finite value into infinity;
	// both are the right answer.
	return sign | uint16(uint32(e)<<10+roundShift(mant, 13))
}

// roundShift returns v >> shift rounded to nearest, ties to even (1 <= shift <= 31).
func roundShift(v, shift uint32) uint32 {
	q := v >> shift
	rem := v & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return q
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 (exact: bfloat16 is the top half of a
// float32).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 converts f to bfloat16 bits, rounding to nearest with ties to even.
// NaN stays NaN (quiet).
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncating could clear the payload, so force quiet
		return uint16(b>>16) | 0x0040
	}
	return uint16(roundShift(b, 16)) // a carry into the exponent is correct, up to infinity
}

// float8E4M3ToFloat32 converts an F8_E4M3 (E4M3FN) byte: bias 7, no infinities, and
// S.1111.111 is NaN.
func float8E4M3ToFloat32(v byte) float32 {
	sign := float32(1)
	if v&0x80 != 0 {
		sign = -1
	}
	exp := int(v>>3) & 0xf
	mant := int(v) & 7
	switch {
	case exp == 0xf && mant == 7:
		return float32(math.Copysign(math.NaN(), float64(sign)))
	case exp == 0:
		return sign * float32(math.Ldexp(float64(mant), -9)) // mant/8 × 2^-6
	}
	return sign * float32(math.Ldexp(float64(8+mant), exp-10)) // (1 + mant/8) × 2^(exp-7)
}

// float8E5M2ToFloat32 converts an F8_E5M2 byte: it is the top byte of a binary16.
func float8E5M2ToFloat32(v byte) float32 { return Float16ToFloat32(uint16(v) << 8) }

// float8E8M0ToFloat32 converts an F8_E8M0 scale byte: 2^(v-127), with 0xFF as NaN.
func float8E8M0ToFloat32(v byte) float32 {
	if v == 0xff {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(1, int(v)-127)) // 2^-127 is a float32 subnormal: exact
}

// decodeFloat32 converts little-endian elements of dtype d (a Float dtype) from b into out.
func decodeFloat32(out []float32, b []byte, d DType) {
	le := binary.LittleEndian
	switch d {
	case DTypeF32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case DTypeF64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case DTypeF16:
		for i := range out {
			out[i] = Float16ToFloat32(le.Uint16(b[2*i:]))
		}
	case DTypeBF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(le.Uint16(b[2*i:]))
		}
	case DTypeF8E4M3:
		for i := range out {
			out[i] = float8E4M3ToFloat32(b[i])
		}
	case DTypeF8E5M2:
		for i := range out {
			out[i] = float8E5M2ToFloat32(b[i])
		}
	case DTypeF8E8M0:
		for i := range out {
			out[i] = float8E8M0ToFloat32(b[i])
		}
	}
}
