//go:build amd64 && !purego

package kernel

import "unsafe"

// The AMX kernel of bfloat16 compute. Intel's Advanced Matrix Extensions add eight tile
// registers of up to 16 rows × 64 bytes and TDPBF16PS, which multiplies a 16×32 tile of
// bfloat16 A by a 32×16 tile of B (as 16 rows of pairs) into a 16×16 float32 tile: 8192
// multiply-adds in one instruction, 256 times those of a 512-bit VDPBF16PS. The kernel keeps
// a 32×32 tile of C in four tile registers and, per step of 16 pairs of depths, loads two A
// and two B tiles and issues four TDPBF16PS.
//
// It reads B's micro-panels as Sgemm packs them for the VDPBF16PS kernel, zero-padded to a
// whole number of steps (pairRows), so that no step reads past a block's depth. A is packed
// in tile rows (amxTileWord; prepareTileRows, or prepareTileRowsT for a transposed A): the
// rows of pair words TDPBF16PS wants, each step's 16 words of a micro-panel's 32 rows in one
// contiguous 2 KiB, so that a tile load reads 1 KiB in one run rather than a line from each
// of 16 rows a block's depth apart (on the Xeon, Sgemm 2–10% faster on two threads, BERT-base
// batch 8 4–7%). The last rows of a matrix need no padding: a row of C depends only on the
// same row of A, so the rows past m that a tile load reads are computed and thrown away.
// Products are summed in float32 in another order than the VDPBF16PS kernel's, so the bits
// differ from that kernel's.
//
// Measured on a Xeon core with AMX: a loop of the four TDPBF16PS of a step on tiles in L1
// runs at about 1.1 TFLOP/s, 18 times a loop of VDPBF16PS on the same core; loading the tile
// configuration (LDTILECFG) costs about 125 ns, so each call checks the thread's
// configuration (STTILECFG, 13 ns) and loads it only when it differs.

// amxTile32 is the kernel of amx_amd64.s: C (32×32) = I + Ap·Bp over steps of 16 pairs, I
// zero (init nil) or the 32×32 at init with row stride ldi (0: one row repeated), prefetching
// the n bytes at ahead into L2 as it goes. Ap's rows are sa bytes apart and its steps as
// bytes apart; sa, as, sb, ldc and ldi are in bytes.
//
//go:noescape
func amxTile32(steps int, a *float32, sa, as int, b *float32, sb int, c *float32, ldc int, init *float32, ldi int, ahead *float32, n int, cfg *[64]byte)

const (
	amxRows      = 32 // the kernel's tile: 32×32, four 16×16 tile registers
	amxMinDepth  = 64 // shallower products run on the VDPBF16PS kernel (see gemmKernelFor)
	amxTileBytes = 64 // bytes per tile row
)

// amxConfig is the tile configuration (palette 1): tiles 0–3 (C) are 16 rows of 16 float32,
// tiles 4–5 (A) 16 rows of 16 pair words, tiles 6–7 (B) 16 pair rows of 16 pair words.
var amxConfig = func() (cfg [64]byte) {
	cfg[0] = 1 // palette
	for t := range 8 {
		*(*uint16)(unsafe.Pointer(&cfg[16+2*t])) = amxTileBytes // bytes per row
		cfg[48+t] = 16                                          // rows
	}
	return cfg
}()

// amxScaleAdd32 adds alpha·T, T the 32×32 tile t (row stride 32), into C (row stride ldc
// bytes), with the bits of storeScaled (beta 1) row by row (amx_amd64.s).
//
//go:noescape
func amxScaleAdd32(alpha float32, t *float32, c *float32, ldc int)

// amxTileRow is the tileFunc of the AMX kernel (amxTile with no bias and nothing ahead).
func amxTileRow(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32) {
	amxTile(k, a, sa, b, sb, c, ldc, mr, nr, alpha, beta, nil, nil, 0)
}

// amxTile is the AMX kernel's tileAhead: A a micro-panel in tile rows (sa = 16 words per
// row, amxStepWords per step), B a packed micro-panel of pairs (sb = 32), both zero-padded to
// whole steps. With bias set, C starts from bias (nr values) in every row (alpha 1): the bits
// of beta 1 on a C set to the bias, without the pass that sets it. With alpha 1 and beta 1 the
// products are added to C in the tile registers (C + p₁ + p₂ + …); otherwise they are summed
// from zero and then scaled and added (alpha·(p₁ + p₂ + …) + beta·C), as the other kernels
// do. A full tile goes straight from and to C where it can; the others pass through a tile on
// the stack.
func amxTile(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32, bias []float32, ahead *float32, n int) {
	steps := amxPairRows(k) / amxPairStep
	full := mr == amxRows && nr == amxRows
	tile := func(c *float32, ldc int, init *float32, ldi int) {
		amxTile32(steps, a, 4*sa, 4*amxStepWords, b, 4*sb, c, 4*ldc, init, 4*ldi, ahead, n, &amxConfig)
	}
	switch {
	case bias != nil && full:
		tile(c, ldc, &bias[0], 0)
		return
	case bias == nil && full && alpha == 1 && beta == 0:
		tile(c, ldc, nil, 0)
		return
	case bias == nil && full && alpha == 1 && beta == 1:
		tile(c, ldc, c, ldc)
		return
	}
	var t [amxRows * amxRows]float32
	switch {
	case bias != nil:
		var row [amxRows]float32
		copy(row[:], bias[:nr])
		tile(&t[0], amxRows, &row[0], 0)
	case alpha == 1 && beta == 1:
		amxRowsTo(t[:], amxRows, c, ldc, mr, nr)
		tile(&t[0], amxRows, &t[0], amxRows)
	case full && beta == 1:
		tile(&t[0], amxRows, nil, 0)
		amxScaleAdd32(alpha, &t[0], c, 4*ldc)
		return
	default:
		tile(&t[0], amxRows, nil, 0)
		for i := range mr {
			storeScaled(alpha, beta, t[i*amxRows:i*amxRows+nr], cRow(c, ldc, i, nr))
		}
		return
	}
	amxRowsFrom(t[:], amxRows, c, ldc, mr, nr)
}

// amxRowsTo copies the mr×nr corner of C (row stride ldc) into t (row stride ldt).
func amxRowsTo(t []float32, ldt int, c *float32, ldc, mr, nr int) {
	for i := range mr {
		copy(t[i*ldt:i*ldt+nr], cRow(c, ldc, i, nr))
	}
}

// amxRowsFrom copies the mr×nr corner of t (row stride ldt) into C (row stride ldc).
func amxRowsFrom(t []float32, ldt int, c *float32, ldc, mr, nr int) {
	for i := range mr {
		copy(cRow(c, ldc, i, nr), t[i*ldt:i*ldt+nr])
	}
}

// gemmKernelAMX describes the AMX kernel. Its depth blocks follow L2, not L1 (see blocksFor).
var gemmKernelAMX = &gemmKernel{
	name: "amx",
	mr:   amxRows, nr: amxRows,
	tileRow:   amxTileRow,
	tileAhead: amxTile,
	pairs:     true,
	amx:       true,
}
