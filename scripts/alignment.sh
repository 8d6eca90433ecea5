#!/usr/bin/env bash
# From a GPT pretrained here to an assistant, measured on a task whose reward a program checks
# (arithmetic questions answered as "Answer: N"): pretraining on generated text, SFT, a reward
# model, PPO (with and without the KL term, against the program reward and against the learned
# reward model) and DPO; in-context learning against the number of examples before and after
# SFT. Logs, results (JSON) and figures (PNG) go to OUT/results; docs/alignment.md reports one
# run. A finished step leaves OUT/.STEP.done and is skipped when the script runs again.
#
# Usage: scripts/alignment.sh [OUT]   (from the repository root; THREADS=2 and
# PRETRAIN_TIME=20m by default)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/alignment}"
THREADS="${THREADS:-2}"
PRETRAIN_TIME="${PRETRAIN_TIME:-20m}"
SEED=1
R="$OUT/results"
mkdir -p "$OUT/bin" "$R"
go build -o "$OUT/bin/qkv" ./cmd/qkv
go build -o "$OUT/bin/alignment" ./scripts/alignment
QKV="$OUT/bin/qkv"
AL="$OUT/bin/alignment"
t0=$(date +%s)
# step NAME COMMAND…: run COMMAND (output in OUT/results/NAME.log) unless it finished before.
step() {
  local name=$1; shift
  [ -f "$OUT/.$name.done" ] && return 0
  echo "[$(( $(date +%s) - t0 ))s] $name" | tee -a "$R/timeline.txt"
  "$@" > "$R/$name.log" 2>&1
  touch "$OUT/.$name.done"
}

# 1. Pretraining on 3 MB of generated text: half arithmetic facts in plain forms (never the chat
#    format or "Answer: N"), half in-context-learning documents (1–10 examples of one string
#    transformation each).
step corpus "$AL" corpus "$OUT/corpus.txt" 3000000 "$SEED"
step base "$QKV" train --data "$OUT/corpus.txt" --tokenizer char --n-layer 4 --n-embd 128 --n-head 4 \
  --block 256 --batch 12 --lr 3e-3 --warmup 20 --time "$PRETRAIN_TIME" --threads "$THREADS" \
  --seed "$SEED" --eval-interval 100 --sample-tokens 0 --out "$OUT/base"

# 2. SFT on 2000 generated demonstrations, 30% of them with the right answer in another format
#    ("it is 7.", "7", "The answer is 7."): imitation follows the required format only as often;
#    the reward can tell.
step sft "$QKV" finetune --method sft --model "$OUT/base" --train builtin:arith --max-train-examples 2000 \
  --iters 150 --batch 16 --lr 2e-3 --max-length 128 --eval-interval 50 --seed "$SEED" \
  --threads "$THREADS" --out "$OUT/sft"
# The same with half of the rows plain pretraining text (InstructGPT's pretraining mix), to see
# what it keeps of in-context learning.
step sft-mix "$QKV" finetune --method sft --model "$OUT/base" --train builtin:arith --max-train-examples 2000 \
  --iters 150 --batch 16 --lr 2e-3 --max-length 128 --eval-interval 50 --seed "$SEED" \
  --mix-text "$OUT/corpus.txt" --mix-ratio 0.5 --threads "$THREADS" --out "$OUT/sft-mix"

# 3. Reward model (from the SFT model) on 2000 generated preference pairs.
step rm "$QKV" finetune --method rm --model "$OUT/sft" --train builtin:arith --max-train-examples 2000 \
  --iters 150 --batch 16 --lr 5e-4 --eval-interval 50 --seed "$SEED" --threads "$THREADS" --out "$OUT/rm"

# 4. PPO against the program reward, with the adaptive KL penalty and without any KL term; PPO
#    against the learned reward model, with and without the KL term (true reward logged).
PPO=(finetune --method ppo --model "$OUT/sft" --train builtin:arith --max-train-examples 2000
  --iters 120 --batch 32 --minibatches 4 --ppo-epochs 2 --max-new-tokens 12 --lr 1e-4
  --target-kl 3 --kl-horizon 500 --eval-interval 10 --threads "$THREADS")
step ppo "$QKV" "${PPO[@]}" --seed "$SEED" --reward builtin:arith --kl-coef 0.1 --out "$OUT/ppo"
step ppo-nokl "$QKV" "${PPO[@]}" --seed "$SEED" --reward builtin:arith --kl-coef 0 --out "$OUT/ppo-nokl"
step ppo-rm "$QKV" "${PPO[@]}" --seed "$SEED" --reward "$OUT/rm" --true-reward builtin:arith --kl-coef 0.1 --out "$OUT/ppo-rm"
step ppo-rm-nokl "$QKV" "${PPO[@]}" --seed "$SEED" --reward "$OUT/rm" --true-reward builtin:arith --kl-coef 0 --out "$OUT/ppo-rm-nokl"

# 5. DPO from the SFT model on the same kind of pairs as the reward model.
step dpo "$QKV" finetune --method dpo --model "$OUT/sft" --train builtin:arith --max-train-examples 2000 \
  --iters 150 --batch 16 --lr 1e-4 --beta 0.5 --eval-interval 50 --seed "$SEED" \
  --threads "$THREADS" --out "$OUT/dpo"

# 5b. SFT, PPO (program reward, adaptive KL) and DPO again with training seeds 2 and 3, from the
#     same pretrained model, for the spread over seeds.
for s in 2 3; do
  step "sft-s$s" "$QKV" finetune --method sft --model "$OUT/base" --train builtin:arith --max-train-examples 2000 \
    --iters 150 --batch 16 --lr 2e-3 --max-length 128 --eval-interval 50 --seed "$s" \
    --threads "$THREADS" --out "$OUT/sft-s$s"
  SEEDPPO=()
  for a in "${PPO[@]}"; do [ "$a" = "$OUT/sft" ] && a="$OUT/sft-s$s"; SEEDPPO+=("$a"); done
  step "ppo-s$s" "$QKV" "${SEEDPPO[@]}" --seed "$s" --reward builtin:arith --kl-coef 0.1 --out "$OUT/ppo-s$s"
  step "dpo-s$s" "$QKV" finetune --method dpo --model "$OUT/sft-s$s" --train builtin:arith --max-train-examples 2000 \
    --iters 150 --batch 16 --lr 1e-4 --beta 0.5 --eval-interval 50 --seed "$s" \
    --threads "$THREADS" --out "$OUT/dpo-s$s"
done

# 6. Measurements on 200 held-out questions (seed 777): true reward of the greedy replies, and
#    KL to the SFT model on replies sampled at temperature 1; the reward model against the true
#    reward; in-context learning with 0, 1, 2, 4, 8 examples (25 held-out words per task).
echo "[$(( $(date +%s) - t0 ))s] measurements" | tee -a "$R/timeline.txt"
"$AL" eval "$OUT/base" > "$R/eval-base.json"
"$AL" eval "$OUT/sft" > "$R/eval-sft.json"
"$AL" eval "$OUT/sft-mix" > "$R/eval-sft-mix.json"
for m in ppo ppo-nokl ppo-rm ppo-rm-nokl dpo; do "$AL" eval "$OUT/$m" "$OUT/sft" > "$R/eval-$m.json"; done
for s in 2 3; do
  "$AL" eval "$OUT/sft-s$s" > "$R/eval-sft-s$s.json"
  for m in ppo dpo; do "$AL" eval "$OUT/$m-s$s" "$OUT/sft-s$s" > "$R/eval-$m-s$s.json"; done
done
"$AL" rm "$OUT/rm" "$OUT/sft" > "$R/rm-vs-true.json"
"$AL" icl "$OUT/base" > "$R/icl-base.json"
"$AL" icl "$OUT/sft" > "$R/icl-sft.json"
"$AL" icl "$OUT/sft-mix" > "$R/icl-sft-mix.json"
"$AL" plot "$R" "pretrained=$R/icl-base.json" "after SFT=$R/icl-sft.json" "after SFT with pretraining mix=$R/icl-sft-mix.json" -- \
  "program reward, KL=$OUT/ppo" "program reward, no KL=$OUT/ppo-nokl" \
  "reward model, KL=$OUT/ppo-rm" "reward model, no KL=$OUT/ppo-rm-nokl"
"$AL" ppo-summary "$OUT/ppo" "$OUT/ppo-nokl" "$OUT/ppo-rm" "$OUT/ppo-rm-nokl" > "$R/ppo-summary.txt"
echo "[$(( $(date +%s) - t0 ))s] done" | tee -a "$R/timeline.txt"
