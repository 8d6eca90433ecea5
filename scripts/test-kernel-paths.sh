#!/usr/bin/env bash
# Runs the tensor tests once per kernel path, so that every fallback stays tested on a machine
# that has the faster paths: QKV_CPU caps the paths the kernels may use (go, avx2, avxvnni,
# avx512, avx512bf16 = AVX-512 with VNNI and BF16 but no AMX, native = everything the CPU has),
# and the purego build has no assembly at all. Within each run the kernel tests also switch
# between the paths below the cap themselves; a path the CPU lacks is logged as skipped ("this
# CPU (or QKV_CPU) has no … path"), never run as another.
#
# Usage (from the repository root): scripts/test-kernel-paths.sh [go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
for cap in go avx2 avxvnni avx512 avx512bf16 native; do
  echo "== QKV_CPU=$cap" >&2
  QKV_CPU=$cap go test "$@" ./tensor/...
done
echo "== -tags purego" >&2
go test -tags purego "$@" ./tensor/...
