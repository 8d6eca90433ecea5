package safetensors

// DType names the element type of a tensor, spelled exactly as in a safetensors header
// ("F32", "BF16", …). Only the exact upper-case spellings listed as constants are valid.
type DType string

// The element types of the safetensors format. The constants carry a DType prefix because
// F32, F16 and BF16 name the tensor constructors.
const (
	DTypeF64    DType = "F64"     // IEEE 754 binary64
	DTypeF32    DType = "F32"     // IEEE 754 binary32
	DTypeF16    DType = "F16"     // IEEE 754 binary16
	DTypeBF16   DType = "BF16"    // bfloat16: the top 16 bits of a binary32
	DTypeF8E4M3 DType = "F8_E4M3" // 8-bit float, 4 exponent bits, 3 mantissa bits, no infinities (E4M3FN)
	DTypeF8E5M2 DType = "F8_E5M2" // 8-bit float, 5 exponent bits, 2 mantissa bits (the top byte of a binary16)
	DTypeF8E8M0 DType = "F8_E8M0" // 8-bit power-of-two scale 2^(e-127); 0xFF is NaN
	DTypeF6E2M3 DType = "F6_E2M3" // 6-bit float, packed; element count × 6 must be a whole number of bytes
	DTypeF6E3M2 DType = "F6_E3M2" // 6-bit float, packed; element count × 6 must be a whole number of bytes
	DTypeF4     DType = "F4"      // 4-bit float (E2M1), packed two per byte; element count must be even
	DTypeC64    DType = "C64"     // complex: two binary32 values (real, imaginary)
	DTypeI64    DType = "I64"     // signed 64-bit integer
	DTypeI32    DType = "I32"     // signed 32-bit integer
	DTypeI16    DType = "I16"     // signed 16-bit integer
	DTypeI8     DType = "I8"      // signed 8-bit integer
	DTypeU64    DType = "U64"     // unsigned 64-bit integer
	DTypeU32    DType = "U32"     // unsigned 32-bit integer
	DTypeU16    DType = "U16"     // unsigned 16-bit integer
	DTypeU8     DType = "U8"      // unsigned 8-bit integer
	DTypeBool   DType = "BOOL"    // one byte per element, 0 or 1
)

// Bits returns the number of bits one element occupies, or 0 for an unknown dtype.
func (d DType) Bits() int {
	switch d {
	case DTypeF64, DTypeI64, DTypeU64, DTypeC64:
		return 64
	case DTypeF32, DTypeI32, DTypeU32:
		return 32
	case DTypeF16, DTypeBF16, DTypeI16, DTypeU16:
		return 16
	case DTypeF8E4M3, DTypeF8E5M2, DTypeF8E8M0, DTypeI8, DTypeU8, DTypeBool:
		return 8
	case DTypeF6E2M3, DTypeF6E3M2:
		return 6
	case DTypeF4:
		return 4
	}
	return 0
}

// Size returns the number of bytes one element occupies. It returns 0 for an unknown dtype and
// for the packed sub-byte dtypes (F4, F6_E2M3, F6_E3M2); use Bits for those.
func (d DType) Size() int {
	if b := d.Bits(); b%8 == 0 {
		return b / 8
	}
	return 0
}

// Valid reports whether d is one of the dtypes of the safetensors format.
func (d DType) Valid() bool { return d.Bits() != 0 }

// Float reports whether File.Float32 can convert tensors of this dtype: F64, F32, F16, BF16
// and the 8-bit float types.
func (d DType) Float() bool {
	switch d {
	case DTypeF64, DTypeF32, DTypeF16, DTypeBF16, DTypeF8E4M3, DTypeF8E5M2, DTypeF8E8M0:
		return true
	}
	return false
}

// byteLen returns the number of bytes that n elements of d occupy. It fails when the count
// overflows int64 or does not fill whole bytes (packed sub-byte dtypes).
func (d DType) byteLen(n int64) (int64, string) {
	bits := int64(d.Bits())
	if bits == 0 {
		return 0, "unknown dtype"
	}
	// n elements of bits/g bytes per 8/g elements, where g = gcd(bits, 8): computed in that
	// order, the count overflows only when the byte size does.
	g := int64(8)
	for bits%g != 0 {
		g /= 2
	}
	per, groupBytes := 8/g, bits/g
	if n%per != 0 {
		return 0, "element count does not fill whole bytes (misaligned packed dtype)"
	}
	if n/per > (1<<63-1)/groupBytes {
		return 0, "byte size overflows int64"
	}
	return n / per * groupBytes, ""
}

// numElements returns the product of shape, or an explanation when a dimension is negative or
// the product overflows int64. A zero dimension makes the product 0 whatever the others are.
func numElements(shape []int) (int64, string) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, "negative dimension"
		}
		if d == 0 {
			n = 0
		}
	}
	if n == 0 {
		return 0, ""
	}
	for _, d := range shape {
		if int64(d) > (1<<63-1)/n {
			return 0, "element count overflows int64"
		}
		n *= int64(d)
	}
	return n, ""
}
