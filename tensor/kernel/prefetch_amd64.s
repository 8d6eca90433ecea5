//go:build amd64 && !purego

#include "textflag.h"

// func prefetchBytes(p unsafe.Pointer, n int)
//
// Asks for the n bytes at p, one PREFETCHT0 per 64-byte line: the loads go on in the
// background while the thread moves on.
TEXT ·prefetchBytes(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	LEAQ (SI)(CX*1), DX

prefetchLoop:
	CMPQ SI, DX
	JAE  prefetchDone
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP  prefetchLoop

prefetchDone:
	RET
