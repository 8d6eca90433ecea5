#!/usr/bin/env bash
# qkv and PyTorch side by side on W1–W6, in one sitting on one machine, and the ratios.
#
# PyTorch runs at its best here (WORKLOADS.md): OpenMP OpenBLAS loaded for the process, 2
# threads, W3 with its matrix–vector (addmv) decode path; W1 compares with numpy's matmul.
# Workloads alternate qkv / PyTorch so that both see the same machine state.
#
# Usage (from the repository root):  scripts/bench-vs-torch.sh [W1 W2 W3 W4 W5 W6]
# COMPUTE=bf16 runs qkv with --compute bf16 (the peers stay fp32); PEER_CORETYPE and QKV_CPU
# cap the two sides' kernels (see below). The load average is printed
# before and after: on a shared machine, ratios from a loaded sitting mean little.
# Needs: apt-get install python3-torch python3-numpy libopenblas0-openmp
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${QKV_SHARED_DIR:-../shared}"
TORCH="$SHARED/bench/torch"
PY=/usr/bin/python3
THREADS="${THREADS:-2}"
OMP=/usr/lib/x86_64-linux-gnu/openblas-openmp
WORKLOADS="${*:-W1 W2 W3 W4 W5 W6}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "bench-vs-torch: $PY cannot import torch and numpy (apt-get install python3-torch python3-numpy libopenblas0-openmp)" >&2
  exit 1
fi
go build -o "$OUT/qkv" ./cmd/qkv
torch_env=()
[ -e "$OMP/libblas.so.3" ] && torch_env=(LD_LIBRARY_PATH="$OMP")
# OpenBLAS picks its kernels by CPU model; where it does not know the model (a virtual CPU, or
# loaded after Debian's torch 1.13) it falls back to its generic "Prescott" kernels, 5-10x
# slower, and an OPENBLAS_CORETYPE inherited from the environment may name older kernels than
# the CPU runs (Haswell's on an AVX-512 machine: half the speed). Give the peers their best:
# time a float32 1024³ product with each kernel set that fits this CPU (and the inherited one)
# and keep the fastest.
# PEER_CORETYPE names the one kernel set to use instead (with QKV_CPU=avx2 and
# PEER_CORETYPE=Haswell, both sides run as on a CPU without AVX-512).
flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
cands=()
if [ -n "${PEER_CORETYPE:-}" ]; then
  cands=("$PEER_CORETYPE")
else
  [ -n "${OPENBLAS_CORETYPE:-}" ] && cands+=("$OPENBLAS_CORETYPE")
  case "$flags" in *avx512_bf16*) cands+=(Cooperlake) ;; esac
  case "$flags" in *avx512f*) cands+=(SkylakeX) ;; esac
  case "$flags" in *avx2*) cands+=(Haswell) ;; esac
fi
core="" best=0
for c in "${cands[@]}"; do
  g="$(env "${torch_env[@]}" OPENBLAS_CORETYPE="$c" OMP_NUM_THREADS=1 "$PY" -c '
import time, numpy as np
a = np.random.rand(1024, 1024).astype(np.float32); b = a.copy(); a @ b
best = 1e9
for _ in range(7):
    t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
print(int(2 * 1024**3 / best / 1e9))' 2>/dev/null || echo 0)"
  echo "bench-vs-torch: OpenBLAS $c kernels: numpy 1024³ at $g GFLOP/s on one thread" >&2
  if [ "$g" -gt "$best" ]; then core="$c" best="$g"; fi
done
if [ -n "$core" ]; then
  torch_env+=(OPENBLAS_CORETYPE="$core")
  echo "bench-vs-torch: OpenBLAS kernels for the peers: $core" >&2
fi

echo "bench-vs-torch: load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
for w in $WORKLOADS; do
  lw="$(echo "$w" | tr 'A-Z' 'a-z')"
  echo "bench-vs-torch: $w…" >&2
  "$OUT/qkv" bench "$w" --threads "$THREADS" --compute "${COMPUTE:-fp32}" --json >>"$OUT/qkv.jsonl"
  case "$lw" in
    w1) env "${torch_env[@]}" "$PY" "$TORCH/w1_matmul.py" --thread-list "1,$THREADS" 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl" ;;
    w2) for c in small shakespeare; do
          env "${torch_env[@]}" "$PY" "$TORCH/w2_gpt_train.py" --threads "$THREADS" --config "$c" 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl"
        done ;;
    w3) env "${torch_env[@]}" "$PY" "$TORCH/w3_gpt2_infer.py" --threads "$THREADS" --decode-linear both --nocache-tokens 0 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl" ;;
    w4) env "${torch_env[@]}" "$PY" "$TORCH/w4_bert_fwd.py" --threads "$THREADS" 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl" ;;
    w5) for c in mini base; do
          env "${torch_env[@]}" "$PY" "$TORCH/w5_bert_train.py" --threads "$THREADS" --config "$c" 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl"
        done ;;
    w6) for c in transformer gru-attn; do
          env "${torch_env[@]}" "$PY" "$TORCH/w6_seq2seq_train.py" --threads "$THREADS" --config "$c" 2>/dev/null | tail -n 1 >>"$OUT/torch.jsonl"
        done ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
done

echo "bench-vs-torch: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$OUT/qkv.jsonl" "$OUT/torch.jsonl" "$THREADS" <<'PY'
import json, sys
qkv = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
torch = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
threads = int(sys.argv[3])
rows = []  # (workload, case, metric, qkv, peer, peer name, ratio where > 1 means qkv is better)

def q(w, case, metric, weights=None, t=threads):
    for r in qkv:
        if r["workload"] == w and r["case"] == case and r["metric"] == metric and r["threads"] == t and (weights is None or r.get("weights") == weights):
            return r["value"]
    return None

for t in torch:
    wl = t["workload"]
    if wl == "W1_matmul":
        for r in t["results"]:
            if r.get("lib") != "numpy":
                continue
            case = f'{r["M"]}x{r["K"]}x{r["N"]}'
            v = q("W1", case, "gflops", t=r["torch_threads"])
            if v is not None:
                rows.append(("W1", case + f' {r["torch_threads"]}t', "GFLOP/s", v, r["gflops"], "numpy", v / r["gflops"]))
    elif wl in ("W2_gpt_train", "W5_bert_train", "W6_seq2seq_train"):
        w, c = wl[:2], t["config"]
        v = q(w, c, "tokens_per_s")
        rows.append((w, c, "tokens/s", v, t["tokens_per_s"], "torch", v / t["tokens_per_s"]))
    elif wl.startswith("W3"):
        pm = t["prefill_ms"]
        for wts in ("fp32", "bf16", "int8"):
            v = q("W3", "gpt2-124m", "prefill_ms", wts)
            if v is not None:
                name = "prefill 64" if wts == "fp32" else "prefill 64 " + wts + " weights"
                rows.append(("W3", name, "ms", v, pm, "torch fp32", pm / v))
        peer = t.get("decode_mv", t["decode"])["tokens_per_s"]
        for wts in ("fp32", "bf16", "int8"):
            v = q("W3", "gpt2-124m", "decode_tokens_per_s", wts)
            if v is not None:
                rows.append(("W3", "decode " + wts, "tokens/s", v, peer, "torch addmv fp32", v / peer))
        bw = q("W3", "gpt2-124m", "memory_gb_per_s")
        if bw:
            rows.append(("W3", "memory bandwidth", "GB/s", bw, None, "", None))
    elif wl.startswith("W4"):
        for r in t["results"]:
            case = f'batch{r["batch"]}'
            v = q("W4", case, "ms_per_batch")
            rows.append(("W4", case, "ms", v, r["median_ms"], "torch", r["median_ms"] / v))

beam = q("W6", "transformer-beam", "sentences_per_s")
if beam is not None:
    rows.append(("W6", "transformer-beam", "sent/s", beam, None, "", None))

if qkv:
    print(f'cpu: {qkv[0].get("cpu", "?")}; qkv kernels: {qkv[0].get("kernels", "?")}; qkv compute: {qkv[0].get("compute", "?")}')
print(f'{"workload":8} {"case":22} {"unit":9} {"qkv":>10} {"peer":>10}  {"peer name":17} {"qkv/peer":>8}')
for w, c, unit, v, p, pn, ratio in rows:
    fv = f"{v:10.2f}" if v is not None else f'{"-":>10}'
    fp = f"{p:10.2f}" if p is not None else f'{"":>10}'
    fr = f"{ratio:7.2f}x" if ratio is not None else ""
    print(f"{w:8} {c:22} {unit:9} {fv} {fp}  {pn:17} {fr:>8}")
print("(qkv/peer > 1 means qkv is faster; for ms the ratio is peer ms / qkv ms)")
PY
