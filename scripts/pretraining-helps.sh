#!/usr/bin/env bash
# Does pretraining help? Pretrain a small BERT (masked LM + next-sentence prediction) and a GPT
# of the same size for the same steps × tokens on the Multi30k English captions (Flickr30k
# images, the images SNLI's premises describe), with a WordPiece vocabulary learned from those
# captions; fine-tune each on SNLI and RTE, against the same architecture fine-tuned from random
# initialisation with the same budget, over several seeds; and measure accuracy against the
# number of SNLI training examples. Writes OUT/results.md (tables) and OUT/curve.png.
#
#   scripts/pretraining-helps.sh [--out DIR] [--seeds "1 2 3"] [--pretrain-iters N] [--epochs N]
#        [--sizes "100 300 1000"] [--threads N] [--lr X] [--rte-length N] [--data DIR]
#        [--models "bert gpt"]
#
# Defaults: runs/pretraining-helps, seeds 1 2 3, 1500 pretraining steps of 32 × 64 tokens,
# 3 fine-tuning epochs at lr 2e-4, at most 64 tokens a pair (RTE too: --rte-length), sizes
# 100 300 1000 (plus all), 2 threads, ../shared/data.
# SNLI: the snli-sample folder holds the first 1,277 test and 1,289 dev pairs of SNLI 1.0 —
# the test file is the training set here and the dev file the dev set. RTE: train.jsonl and
# val.jsonl. Finished steps are skipped when the script is run again with the same --out, and
# two instances with the same --out share the fine-tuning runs between them.
# QKV=path/to/qkv uses that binary instead of building one.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=runs/pretraining-helps
seeds="1 2 3"
iters=1500
epochs=3
sizes="100 300 1000"
threads=2
lr=2e-4
rte_len=64
models="bert gpt"
data="$here/../shared/data"
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--seeds) seeds=$2; shift 2 ;;
	--pretrain-iters) iters=$2; shift 2 ;;
	--epochs) epochs=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--lr) lr=$2; shift 2 ;;
	--rte-length) rte_len=$2; shift 2 ;;
	--models) models=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "pretraining-helps.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
qkv=${QKV:-}
if [ -z "$qkv" ]; then
	qkv="$out/qkv"
	(cd "$here" && go build -o "$qkv" ./cmd/qkv)
fi
snli_train="$data/snli-sample/snli_1.0_test_first1277.jsonl"
snli_dev="$data/snli-sample/snli_1.0_dev_first1289.jsonl"
rte_train="$data/rte/train.jsonl"
rte_dev="$data/rte/val.jsonl"
log() { echo "[$(date +%H:%M:%S)] $*"; }

# 1. The corpus: one caption a line, a blank line after every 8 (the "documents" that
# next-sentence prediction draws its random segments from), and a WordPiece vocabulary.
if [ ! -s "$out/captions.txt" ]; then
	gzip -dc "$data/multi30k-en-de/train.en.gz" | awk '{print} NR%8==0{print ""}' >"$out/captions.txt"
fi
[ -f "$out/wordpiece/vocab.txt" ] || "$qkv" tokenizer train --type wordpiece --data "$out/captions.txt" --vocab-size 4000 --out "$out/wordpiece"

# 2. Pretraining at matched size (2 layers, 2 heads, 128 wide) and compute (the same steps of
# 32 sequences of 64 tokens; BERT predicts 15 % of them, GPT all).
if [ ! -e "$out/bert/latest" ] || ! grep -q val_loss_full "$out/bert/metrics.jsonl"; then
	log "pretraining BERT ($iters steps)"
	"$qkv" train --arch bert --tokenizer "$out/wordpiece" --data "$out/captions.txt" --preset tiny \
		--max-seq-length 64 --batch 32 --iters "$iters" --lr 5e-4 --warmup 100 --eval-interval 500 \
		--seed 1 --threads "$threads" --out "$out/bert" >"$out/bert.log" 2>&1
fi
if [[ " $models " == *" gpt "* ]] && { [ ! -e "$out/gpt/latest" ] || ! grep -q val_loss_full "$out/gpt/metrics.jsonl"; }; then
	log "pretraining GPT ($iters steps)"
	"$qkv" train --arch gpt --tokenizer "$out/wordpiece" --data "$out/captions.txt" \
		--n-layer 2 --n-head 2 --n-embd 128 --block 64 --batch 32 --dropout 0.1 --iters "$iters" --lr 5e-4 \
		--warmup 100 --eval-interval 500 --seed 1 --threads "$threads" --sample-tokens 0 --out "$out/gpt" >"$out/gpt.log" 2>&1
fi

# 3. Fine-tuning: ft MODEL INIT TASK SEED [N] runs one unless it finished before.
ft() {
	local model=$1 init=$2 task=$3 seed=$4 n=${5:-0}
	local name="$task-$model-$init-n$n-s$seed" tr dev len=64
	local dir="$out/ft/$name"
	[ -f "$dir/done" ] && return 0
	# Another instance of this script (started with the same --out to share the work) may hold
	# it; a lock left by a killed run is removed by hand (rmdir OUT/ft/*.lock).
	mkdir "$dir.lock" 2>/dev/null || return 0
	rm -rf "$dir"
	case $task in
	snli) tr=$snli_train dev=$snli_dev ;;
	rte) tr=$rte_train dev=$rte_dev len=$rte_len ;;
	esac
	log "fine-tuning $name"
	"$qkv" finetune --model "$out/$model" --init "$init" --task "$task" --train "$tr" --dev "$dev" \
		--epochs "$epochs" --lr "$lr" --batch 32 --max-length "$len" --max-train-examples "$n" \
		--seed "$seed" --threads "$threads" --out "$dir" >"$dir.log" 2>&1 || {
		log "fine-tuning $name failed: see $dir.log"
		return 0
	}
	touch "$dir/done"
	rmdir "$dir.lock"
}
mkdir -p "$out/ft"
has() { [[ " $models " == *" $1 "* ]]; }
# The most telling runs first: SNLI (its premises are captions, as the pretraining text is),
# RTE (news text), the sample-efficiency curve, then GPT from random initialisation.
for task in snli rte; do
	for seed in $seeds; do
		if has bert; then
			ft bert pretrained "$task" "$seed"
			ft bert random "$task" "$seed"
		fi
		if has gpt; then ft gpt pretrained "$task" "$seed"; fi
	done
done
if has bert; then
	for n in $sizes; do
		for seed in $seeds; do
			ft bert pretrained snli "$seed" "$n"
			ft bert random snli "$seed" "$n"
		done
	done
fi
if has gpt; then
	for task in snli rte; do
		for seed in $seeds; do ft gpt random "$task" "$seed"; done
	done
fi

# 4. Tables and the curve.
(cd "$here" && go run ./scripts/pretraining-helps -dir "$out" -sizes "$sizes" -all 1254) | tee "$out/results.md"
log "done: $out/results.md, $out/curve.png"
