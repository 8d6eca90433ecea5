#!/usr/bin/env bash
# Quality bar: nanoGPT's CPU "baby" run on tiny Shakespeare (character level, first 90 % train,
# last 10 % validation; 4 layers, 4 heads, 128 wide, block 64, batch 12, 2000 iterations, AdamW
# lr 1e-3 cosine to 1e-4 after 100 warm-up steps, betas (0.9, 0.99), weight decay 0.1, clip 1.0,
# dropout 0), trained by qkv and by PyTorch in the same sitting. Prints both wall times and both
# validation losses over the whole validation split.
#
# Usage: scripts/baby-shakespeare.sh [ITERS]   (from the repository root; PyTorch from Debian's
# python3-torch is used when /usr/bin/python3 can import it)
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS="${1:-2000}"
SHARED="${QKV_SHARED_DIR:-../shared}"
DATA="${QKV_DATA_DIR:-$SHARED/data}/tinyshakespeare/input.txt"
THREADS="${THREADS:-2}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

go build -o "$OUT/qkv" ./cmd/qkv
"$OUT/qkv" train --data "$DATA" --tokenizer char --preset baby --iters "$ITERS" \
  --lr 1e-3 --min-lr 1e-4 --warmup 100 --beta1 0.9 --beta2 0.99 --weight-decay 0.1 --clip 1 \
  --dropout 0 --activation gelu --eval-interval 0 --log-interval 100 --seed 1337 \
  --threads "$THREADS" --out "$OUT/run" --sample-tokens 0 >"$OUT/qkv.log"
qkv_line="$(python3 - "$OUT/run/metrics.jsonl" "$ITERS" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in recs if r.get("step") == int(sys.argv[2]) and "elapsed_s" in r][-1]
val = [r for r in recs if "val_loss_full" in r][-1]
print(json.dumps({"impl": "qkv", "iters": int(sys.argv[2]), "train_wall_s": round(train["elapsed_s"], 1),
                  "val_loss": round(val["val_loss_full"], 4), "final_train_loss": round(train["loss"], 4)}))
PY
)"
echo "$qkv_line"

PY=/usr/bin/python3
if "$PY" -c 'import torch' 2>/dev/null; then
  OMP=/usr/lib/x86_64-linux-gnu/openblas-openmp
  env ${OMP:+LD_LIBRARY_PATH=$OMP} "$PY" "$SHARED/bench/torch/baby_shakespeare.py" "$DATA" \
    --iters "$ITERS" --threads "$THREADS" 2>/dev/null | tail -n 1 | sed 's/^{/{"impl": "pytorch", /'
else
  echo '{"impl": "pytorch", "skipped": "/usr/bin/python3 cannot import torch (apt-get install python3-torch)"}'
fi
