#!/usr/bin/env bash
# qkv and llama.cpp (ggml) side by side on GPT-2 124M inference (W3), in one sitting on one
# machine, and the ratios.
#
# The peer is llama.cpp's own prebuilt CPU engine as the npm package node-llama-cpp 3.22.1 ships
# it (@node-llama-cpp/linux-x64): nothing of llama.cpp is built here, and ggml loads the
# libggml-cpu variant that scores best on this CPU. Its model is a GGUF file with GPT-2 124M's
# shapes and tokenizer and random weights, in f32, f16 and q8_0 (scripts/llamacpp/make_gguf.py),
# timed by a small C program against the shipped libllama (scripts/llamacpp/bench.c): prefill of
# a 64-token prompt with logits of the last position only, median of 7; 64 greedy decoding steps
# after that prompt, median of 3. qkv runs W3 once (fp32, bf16 and int8 weights), then llama.cpp
# runs f32, f16 and q8_0; the table sets fp32 against f32, bf16 against f16, int8 against q8_0.
#
# A work folder keeps what the peer needs, each made only when missing: the npm install,
# llama.cpp's headers (checked out of the source bundle in the npm package), the compiled C
# programs and the three GGUF files (about 900 MB).
#
# Usage (from the repository root):  scripts/bench-vs-llamacpp.sh
# THREADS (default 2) sets both sides' threads; QKV_LLAMACPP_DIR the work folder (default
# ~/.cache/qkv/llamacpp). The load average is printed before and after: on a shared machine,
# ratios from a loaded sitting mean little.
# Needs: x86-64 Linux; node and npm (and the npm registry on first use), gcc, git,
#   /usr/bin/python3 with numpy (apt-get install nodejs npm gcc git python3-numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${QKV_SHARED_DIR:-../shared}"
WORK="${QKV_LLAMACPP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qkv/llamacpp}"
TOKENIZER="$SHARED/data/gpt2-tokenizer"
PY=/usr/bin/python3
THREADS="${THREADS:-2}"
NLC=3.22.1 # node-llama-cpp and @node-llama-cpp/linux-x64
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

fail() {
  echo "bench-vs-llamacpp: $*" >&2
  exit 1
}
[ "$(uname -sm)" = "Linux x86_64" ] || fail "llama.cpp's engine here is its x86-64 Linux build; this is $(uname -sm)"
for c in node npm gcc git; do
  command -v "$c" >/dev/null || fail "no $c on the PATH (apt-get install nodejs npm gcc git)"
done
"$PY" -c 'import numpy' 2>/dev/null || fail "$PY cannot import numpy (apt-get install python3-numpy)"
if [ ! -f "$TOKENIZER/encoder.json" ] || [ ! -f "$TOKENIZER/vocab.bpe" ]; then
  fail "no GPT-2 tokenizer (encoder.json, vocab.bpe) in $TOKENIZER (QKV_SHARED_DIR names the shared folder)"
fi
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)" # absolute: the C programs keep the library folder as their rpath
NPMDIR="$WORK/node_modules"
BIN="$NPMDIR/@node-llama-cpp/linux-x64/bins/linux-x64"
SRC="$WORK/llama.cpp"

# 1. The prebuilt engine. --ignore-scripts skips node-llama-cpp's postinstall, which would look
# for binaries and may download or build them; NODE_LLAMA_CPP_SKIP_DOWNLOAD says the same to
# anything else of it that runs. Its GPU builds (CUDA, Vulkan: about 600 MB) are optional
# dependencies that nothing here loads, so optional ones are left out and the CPU build is named.
version() { node -p 'require(process.argv[1]).version' "$1" 2>/dev/null || true; }
if [ "$(version "$NPMDIR/node-llama-cpp/package.json")" != "$NLC" ] ||
  [ "$(version "$NPMDIR/@node-llama-cpp/linux-x64/package.json")" != "$NLC" ] ||
  [ ! -f "$BIN/libggml-base.so" ]; then
  echo "bench-vs-llamacpp: installing node-llama-cpp $NLC in $WORK…" >&2
  rm -rf "$SRC" "$WORK/bin"
  [ -f "$WORK/package.json" ] || echo '{"private": true}' >"$WORK/package.json"
  (cd "$WORK" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --ignore-scripts --omit=optional --no-audit --no-fund \
    "node-llama-cpp@$NLC" "@node-llama-cpp/linux-x64@$NLC") >&2
  [ -f "$BIN/libggml-base.so" ] || fail "npm installed no prebuilt CPU engine in $BIN"
fi
lib() { # the shipped library matching a pattern
  local m
  m="$(compgen -G "$BIN/$1" | head -n 1)" || true
  [ -n "$m" ] || fail "no $1 in $BIN"
  echo "$m"
}
LIBLLAMA="$(lib 'libllama.v*.so')"
LIBGGML="$(lib 'libggml.v*.so')"
LIBBASE="$(lib libggml-base.so)"
LIBCOMMON="$(lib libllama-common.so)"

# 2. llama.cpp's headers, from the source the engine was built from (a git bundle in the package).
if [ ! -f "$SRC/include/llama.h" ] || [ ! -f "$SRC/ggml/include/ggml.h" ]; then
  rm -rf "$SRC"
  git -c advice.detachedHead=false clone -q --no-checkout "$NPMDIR/node-llama-cpp/llama/gitRelease.bundle" "$SRC" >&2
  git -C "$SRC" checkout -q HEAD -- include ggml/include >&2
fi

# 3. The C programs, against the shipped libraries (found at run time through the rpath).
mkdir -p "$WORK/bin"
build() { # name, libraries…
  local name="$1" src="scripts/llamacpp/$1.c"
  shift
  if [ ! -x "$WORK/bin/$name" ] || [ "$src" -nt "$WORK/bin/$name" ]; then
    gcc -O2 -Wall -o "$WORK/bin/$name" "$src" -I"$SRC/include" -I"$SRC/ggml/include" "$@" -Wl,-rpath,"$BIN"
  fi
}
build bench "$LIBLLAMA" "$LIBGGML" "$LIBBASE"
build buildinfo "$LIBCOMMON" "$LIBBASE"

# 4. The GGUF files.
missing=()
for w in f32 f16 q8_0; do
  [ -f "$WORK/gpt2-$w.gguf" ] || missing+=("$w")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench-vs-llamacpp: writing the GGUF files (${missing[*]}) in $WORK…" >&2
  "$PY" scripts/llamacpp/make_gguf.py "$TOKENIZER" "$WORK" --variants "$(IFS=,; echo "${missing[*]}")"
fi

"$WORK/bin/buildinfo" >"$OUT/buildinfo.json"
node -p 'require(process.argv[1]).tag' "$NPMDIR/node-llama-cpp/llama/llama.cpp.info.json" >"$OUT/tag"
go build -o "$OUT/qkv" ./cmd/qkv

echo "bench-vs-llamacpp: load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
echo "bench-vs-llamacpp: qkv W3…" >&2
"$OUT/qkv" bench W3 --threads "$THREADS" --json >"$OUT/qkv.jsonl"
for w in f32 f16 q8_0; do
  echo "bench-vs-llamacpp: llama.cpp $w…" >&2
  "$WORK/bin/bench" "$BIN" "$WORK/gpt2-$w.gguf" "$w" "$THREADS" >>"$OUT/ggml.jsonl"
done
echo "bench-vs-llamacpp: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$OUT/qkv.jsonl" "$OUT/ggml.jsonl" "$OUT/buildinfo.json" "$(cat "$OUT/tag")" "$THREADS" <<'PY'
import json, sys
qkv = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ggml = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
build = json.load(open(sys.argv[3]))
tag, threads = sys.argv[4], int(sys.argv[5])

def q(metric, weights):
    for r in qkv:
        if r["workload"] == "W3" and r["metric"] == metric and r.get("weights") == weights and r["threads"] == threads:
            return r["value"]
    return None

def g(metric, weights):
    for r in ggml:
        if r["metric"] == metric and r["weights"] == weights:
            return r["value"]
    return None

# (case, unit, qkv, ggml, ratio where > 1 means qkv is faster, target ratio or None)
rows = []
def prefill(case, qw, gw, target=None):
    v, p = q("prefill_ms", qw), g("prefill64_ms", gw)
    rows.append((case, "ms", v, p, p / v if v and p else None, target))
def decode(case, qw, gw, target=None):
    v, p = q("decode_tokens_per_s", qw), g("decode_tok_s", gw)
    rows.append((case, "tokens/s", v, p, v / p if v and p else None, target))
prefill("prefill 64, fp32 / f32", "fp32", "f32", 1.2)
decode("decode, bf16 / f16", "bf16", "f16", 1.1)
decode("decode, int8 / q8_0", "int8", "q8_0", 2.0)
prefill("prefill 64, int8 / q8_0", "int8", "q8_0")
decode("decode, fp32 / f32", "fp32", "f32")

if qkv:
    print(f'cpu: {qkv[0].get("cpu", "?")}; qkv kernels: {qkv[0].get("kernels", "?")}; qkv compute: {qkv[0].get("compute", "?")}')
backends = sorted({r.get("backend", "?") for r in ggml})
print(f'llama.cpp: {tag} (commit {build["llama_commit"]}, ggml {build["ggml_version"]}, {build["compiler"]}); '
      f'ggml CPU backend: {", ".join(backends)}; {threads} threads')
print(f'{"case":24} {"unit":9} {"qkv":>10} {"ggml":>10} {"qkv/ggml":>8}  target')
for c, unit, v, p, ratio, target in rows:
    fv = f"{v:10.2f}" if v is not None else f'{"-":>10}'
    fp = f"{p:10.2f}" if p is not None else f'{"-":>10}'
    fr = f"{ratio:7.2f}x" if ratio is not None else f'{"-":>8}'
    ft = ""
    if target is not None:
        ft = f"≥ {target:.1f}x"
    print(f"{c:24} {unit:9} {fv} {fp} {fr:>8}  {ft}".rstrip())
print("(qkv/ggml > 1 means qkv is faster; for ms the ratio is ggml ms / qkv ms)")
PY
