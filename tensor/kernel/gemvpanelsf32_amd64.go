//go:build amd64 && !purego

package kernel

// The matrix–vector kernels on float32 micro-panels (gemvpanelsf32_amd64.s): 32 columns wide
// for the AVX-512 kernel's panels, 16 for the AVX2 kernel's.

// gemvPanelF32 writes out[c] = Σ_p x_p·B[p][c] for the 32 columns of one float32 micro-panel
// b over k inputs x.
//
//go:noescape
func gemvPanelF32(k int, x, b, out *float32)

// gemvPanels4F32 is gemvPanelF32 on the four micro-panels at b + i·stride bytes, i < 4, into
// out[32·i:].
//
//go:noescape
func gemvPanels4F32(k int, x, b *float32, stride int, out *float32)

// gemvPanelF32AVX2 is gemvPanelF32 on a 16-column micro-panel, into out[0:16].
//
//go:noescape
func gemvPanelF32AVX2(k int, x, b, out *float32)

// gemvPanels4F32AVX2 is gemvPanels4F32 on 16-column micro-panels, into out[16·i:].
//
//go:noescape
func gemvPanels4F32AVX2(k int, x, b *float32, stride int, out *float32)

func init() {
	if hasAsm {
		gemmKernelAVX2.gemv = asmPanelGemv(16, gemvPanelF32AVX2, gemvPanels4F32AVX2)
	}
	if hasAVX512 {
		gemmKernel512.gemv = asmPanelGemv(32, gemvPanelF32, gemvPanels4F32)
	}
}

// asmPanelGemv wraps the assembly kernels one (a micro-panel of nr columns) and four (four of
// them, stride bytes apart) as a panelGemv, checking the bounds of what they read.
func asmPanelGemv(nr int, one func(steps int, x, b, out *float32), four func(steps int, x, b *float32, stride int, out *float32)) *panelGemv {
	return &panelGemv{
		one: func(steps int, x, b []float32, out *[32]float32) {
			_, _ = x[steps-1], b[steps*nr-1]
			one(steps, &x[0], &b[0], &out[0])
		},
		four: func(steps int, x, b []float32, size int, out *[4 * 32]float32) {
			_, _ = x[steps-1], b[3*size+steps*nr-1]
			four(steps, &x[0], &b[0], 4*size, &out[0])
		},
	}
}
