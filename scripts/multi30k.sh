#!/usr/bin/env bash
# Multi30k en→de: train (a) a recurrent encoder–decoder without attention, (b) the same with
# Bahdanau (additive) attention and (c) a small Transformer, each for the same wall-clock
# budget, translate test2016 (flickr) with beam 5, score cased BLEU and chrF2 with
# `qkv eval bleu`, and write a Markdown table.
#
#   scripts/multi30k.sh [--budget 60m] [--threads N] [--out DIR] [--data DIR] [--only a,b,c]
#                       [--train-flags "FLAGS"]
#
# Defaults: 60 minutes per model, all cores, runs/multi30k-DATE, ../shared/data/multi30k-en-de.
# --train-flags are added to every qkv train command (e.g. "--batch-tokens 1024 --warmup 20"
# for a short budget). QKV=path/to/qkv uses that binary instead of building one.
# The table goes to OUT/results.md (and standard output); each model's translations to
# OUT/NAME.test2016.de and its training run to OUT/NAME/.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
budget=60m
threads=0
out=""
data="$here/../shared/data/multi30k-en-de"
only="a,b,c"
extra=""
while [ $# -gt 0 ]; do
	case "$1" in
	--budget) budget=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--train-flags) extra=$2; shift 2 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "multi30k.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
for f in train val test_2016_flickr; do
	for l in en de; do
		[ -f "$data/$f.$l.gz" ] || { echo "multi30k.sh: $data/$f.$l.gz is missing (--data DIR)" >&2; exit 1; }
	done
done
out=${out:-runs/multi30k-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
qkv=${QKV:-$out/qkv}
[ -n "${QKV:-}" ] || (cd "$here" && go build -o "$qkv" ./cmd/qkv)

common=(--src "$data/train.en.gz" --tgt "$data/train.de.gz" --valid-src "$data/val.en.gz" --valid-tgt "$data/val.de.gz"
	--time "$budget" --threads "$threads" --vocab-size 8000 --batch-tokens 4096 --max-len 64)
declare -A args=(
	[a]="--arch seq2seq --attention none --preset small --lr 1e-3"
	[b]="--arch seq2seq --attention bahdanau --preset small --lr 1e-3"
	[c]="--arch transformer --preset small --lr 7e-4 --warmup 200"
)
declare -A names=([a]=seq2seq-none [b]=seq2seq-bahdanau [c]=transformer)
declare -A descs=([a]="GRU encoder–decoder, no attention" [b]="GRU encoder–decoder, Bahdanau attention" [c]="Transformer (d 256, 3+3 layers)")

gunzip -c "$data/test_2016_flickr.en.gz" > "$out/test2016.en"
rows=()
for k in a b c; do
	case ",$only," in *",$k,"*) ;; *) continue ;; esac
	name=${names[$k]}
	echo "== ($k) $name: training for $budget" >&2
	# shellcheck disable=SC2086
	"$qkv" train ${args[$k]} "${common[@]}" $extra --out "$out/$name" > "$out/$name.train.log" 2>&1
	start=$(date +%s)
	"$qkv" translate --model "$out/$name" --beam 5 --threads "$threads" --input "$out/test2016.en" > "$out/$name.test2016.de" 2> "$out/$name.translate.log"
	secs=$(( $(date +%s) - start ))
	score=$("$qkv" eval bleu --hyp "$out/$name.test2016.de" --ref "$data/test_2016_flickr.de.gz" --width 1)
	bleu=$(echo "$score" | sed -n 's/^BLEU = \([0-9.]*\).*/\1/p')
	chrf=$(echo "$score" | sed -n 's/^chrF2 = \([0-9.]*\).*/\1/p')
	steps=$(sed -n 's/^done: \([0-9]*\) steps.*/\1/p' "$out/$name.train.log")
	vbleu=$(grep -o '"val_bleu_full":[0-9.]*' "$out/$name/metrics.jsonl" | tail -1 | cut -d: -f2)
	[ -z "$vbleu" ] || vbleu=$(printf '%.1f' "$vbleu")
	rows+=("| ($k) ${descs[$k]} | $budget | ${steps:-?} | ${vbleu:-?} | $bleu | $chrf | ${secs}s |")
done

{
	echo "Multi30k en→de, test2016 (flickr), cased sacreBLEU; beam 5, length penalty 1."
	echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), threads: $threads (0 = all), date: $(date -u +%Y-%m-%d)."
	echo
	echo "| model | training budget | steps | val BLEU (greedy) | test BLEU | test chrF2 | translate test (beam 5) |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$out/results.md"
