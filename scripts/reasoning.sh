#!/bin/sh
# The reasoning experiments of docs/reasoning.md: train two small GPTs on generated text, then
# score direct answers, chain-of-thought, self-consistency and tree-of-thoughts on held-out
# problems. Every model call is cached under $OUT/cache, so a rerun (or a resumed Ctrl-C)
# costs only what is missing.
#
#   sh scripts/reasoning.sh [OUT]      (default OUT=reasoning-runs; about an hour on 2 cores)
set -eu
OUT=${1:-reasoning-runs}
QKV=${QKV:-qkv}
T="--threads 2"
mkdir -p "$OUT"

# (a) three-step arithmetic word problems: half written with worked steps after the cue
# "A: Step by step,", half with the answer at once after "A: The answer is".
$QKV reason data --task arith --n 60000 --seed 1 --out "$OUT/arith.txt"
# The measured models are the step-1000 checkpoints of runs planned for 1500 steps (the shared
# machine ran too slowly to finish them in the time the measurement had).
$QKV train --data "$OUT/arith.txt" --preset baby --block 128 --batch 16 --iters 1500 --lr 2e-3 \
	--eval-interval 500 --sample-tokens 0 $T --out "$OUT/arith-run"
A="$OUT/arith-run/checkpoints/step-001000"
for s in io cot; do
	$QKV reason eval --task arith --strategy $s --model "$A" --n 100 --data-seed 777 \
		--cache "$OUT/cache" --out "$OUT/arith-$s.jsonl" --threads 1
done
for k in 20 10 5; do # k=10 and k=5 reuse k=20's cached samples
	$QKV reason eval --task arith --strategy sc --k $k --temperature 0.7 --model "$A" --n 100 \
		--data-seed 777 --cache "$OUT/cache" --out "$OUT/arith-sc$k.jsonl" --threads 1
done
$QKV reason plot --out "$OUT/arith-sc-curve.png" "$OUT"/arith-io.jsonl "$OUT"/arith-cot.jsonl "$OUT"/arith-sc*.jsonl

# The same with small numbers (start 2-9, operands 1-9), 700 steps.
$QKV reason data --task arith --n 40000 --seed 1 --max-start 9 --max-operand 9 --out "$OUT/arith-small.txt"
$QKV train --data "$OUT/arith-small.txt" --preset baby --block 128 --batch 16 --iters 700 --lr 2e-3 \
	--eval-interval 350 --sample-tokens 0 $T --out "$OUT/arith-small"
S="--task arith --max-start 9 --max-operand 9 --model $OUT/arith-small/checkpoints/step-000700 --n 100 --data-seed 777 --cache $OUT/cache --threads 1"
for s in io cot; do $QKV reason eval $S --strategy $s --out "$OUT/small-$s.jsonl"; done
for k in 20 10 5; do $QKV reason eval $S --strategy sc --k $k --temperature 0.7 --out "$OUT/small-sc$k.jsonl"; done

# The same small numbers, trained to 2000 steps, on 300 problems, at two temperatures.
$QKV train --data "$OUT/arith-small.txt" --preset baby --block 128 --batch 16 --iters 2000 --lr 2e-3 \
	--eval-interval 1000 --sample-tokens 0 $T --out "$OUT/arith-small2"
S="--task arith --max-start 9 --max-operand 9 --model $OUT/arith-small2/checkpoints/step-002000 --n 300 --data-seed 777 --cache $OUT/cache --threads 2"
for s in io cot; do $QKV reason eval $S --strategy $s --out "$OUT/s3-$s.jsonl"; done
for t in 0.7 0.3; do for k in 40 20 10 5; do
	$QKV reason eval $S --strategy sc --k $k --temperature $t --out "$OUT/s3-sc$k-t$t.jsonl"
done; done
$QKV reason plot --title "Arithmetic (operands 1-9, 300 problems): self-consistency at T=0.7" \
	--out "$OUT/reasoning-sc-curve.png" "$OUT"/s3-io.jsonl "$OUT"/s3-cot.jsonl "$OUT"/s3-sc*-t0.7.jsonl

# (b) a search task of the Game of 24's shape: reach 10 from three numbers 1-9; one model is
# trained as solver (S:), proposer (P:) and value model (V:); 40 solvable puzzles held out.
$QKV reason data --task game-int --target 10 --numbers 3 --max-number 9 --rounds 40 --seed 1 \
	--out "$OUT/game10.txt" --eval-out "$OUT/game10-eval.txt"
$QKV train --data "$OUT/game10.txt" --preset baby --block 64 --batch 24 --iters 1500 --lr 2e-3 \
	--eval-interval 500 --sample-tokens 0 $T --out "$OUT/game10-run"
G="--task game-int --target 10 --numbers 3 --model $OUT/game10-run/checkpoints/step-001000 --data $OUT/game10-eval.txt --cache $OUT/cache --threads 1"
$QKV reason eval $G --strategy cot --out "$OUT/game10-cot.jsonl"
$QKV reason eval $G --strategy sc --k 10 --temperature 1 --out "$OUT/game10-sc10.jsonl"
$QKV reason eval $G --strategy tot --temperature 1 --breadth 5 --n-propose 8 --n-evaluate 3 --out "$OUT/game10-tot.jsonl"
$QKV reason eval $G --strategy tot --constrain --temperature 1 --breadth 5 --n-propose 8 --n-evaluate 3 --out "$OUT/game10-tot-constrained.jsonl"

# The recorded GPT-4 tree-of-thoughts run replayed through qkv's BFS (no model needed).
go test -run TestReplayGPT4Game24 -v ./reason/tot/ | grep "ToT (GPT-4 replay)"
