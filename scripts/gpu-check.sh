#!/usr/bin/env bash
# The GPU checks, run on a bare NVIDIA machine (../shared/gpu/README.md) from the repository root, with
# node and onnxruntime-node already unpacked there. Writes to $OUT, at most 8 files:
#   doctor.json        what `chimera doctor` finds: adapters, the device chosen, c(1) per provider
#   code.json fim.json refactor.json
#                      `chimera bench --device gpu` per prompt file: the measured cost profile, the tree
#                      sizes the cost policy chose, and each mode's speed and identity to autoregressive
#   code-draft-gpu.json
#                      the draft on the GPU beside the target instead of on the CPU (--draft-on target)
#   code-static.json   the manifest's fixed tree on the same prompts, for comparison with the cost policy
#   code-cpu.json      the host's CPU on the same prompts (a many-core CPU has another c(T) curve)
#   gqa-trees.json     a grouped-query (Qwen2-shaped) int8 package on the GPU: its deviceReason says
#                      whether the tree check found the driver's GroupQueryAttention ignoring tree masks
#   log.txt            every command's stderr
# Each step has its own time limit, so one slow step cannot take the others with it.
# Environment: MODEL (default: the bundled model), PROMPTS (prompts per file, default 25), TOKENS_SCALE
# (divides the token limits, for a dry run on a software GPU).
set -u
out=${OUT:?set OUT to the folder for the results}
model=${MODEL:-models/default}
n=${PROMPTS:-25}
scale=${TOKENS_SCALE:-1}
log=$out/log.txt
work=$(mktemp -d)
mkdir -p "$out"

step() { # name timeout_s command...: runs one check, keeps its stdout in $out/name.json
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name: $*" >>"$log"
  timeout "$limit" "$@" >"$work/$name.json" 2>>"$log"
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$log"
  [ -s "$work/$name.json" ] && cp "$work/$name.json" "$out/$name.json"
}

for f in code fim refactor; do head -n "$n" "test/bench/$f.jsonl" >"$work/$f.jsonl"; done
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1; node --version; nproc; } >>"$log"

bench() { # name limit_s device prompts tokens extra...
  local name=$1 limit=$2 device=$3 prompts=$4 tokens=$5; shift 5
  step "$name" "$limit" node dist/cli.js bench --model "$model" --device "$device" --prompts "$work/$prompts.jsonl" \
    --max-tokens $((tokens / scale)) --json "$@"
}

# The limits add up to 470 s, so the whole script fits one 480 s device call.
step doctor 30 node dist/cli.js doctor --model "$model" --json
bench code 100 gpu code 128 --modes autoregressive,chimera,ngram
bench fim 70 gpu fim 64 --modes autoregressive,chimera,ngram
bench refactor 110 gpu refactor 256 --modes autoregressive,chimera,ngram
bench code-draft-gpu 60 gpu code 128 --modes chimera,ngram --draft-on target
bench code-static 40 gpu code 128 --modes chimera --tree static
bench code-cpu 40 cpu code 128 --modes autoregressive,chimera,ngram
model=test/fixtures/converted-qwen2-int8
bench gqa-trees 20 gpu code 32 --modes autoregressive,chimera
rm -rf "$work"
