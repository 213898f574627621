#!/usr/bin/env bash
# Real-size benchmark, no downloads: a Qwen2.5-Coder-0.5B-shaped random checkpoint (with the Qwen tokenizer
# npm carries), converted to fp32, int8 and int4 packages, each measured in a fresh process: load time,
# prompt tokens/s (512), decode tokens/s (128, to the limit), c(T) for T = 1..16, resident memory.
# With --llama-cpp DIR (a llama.cpp source tree built with llama-bench and llama-quantize in DIR/build/bin),
# the same checkpoint goes through llama.cpp's own converter to F16, Q8_0 and Q4_K_M, and each of its runs
# follows ours of the matching precision, so both engines meet the same machine state.
#   bash scripts/bench-realsize.sh [--llama-cpp DIR] [--out DIR] [--threads N]
# Prints JSON (stdout) and a table (stderr). Needs `npm ci`; sets up training/.venv from the local mirror.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${TMPDIR:-/tmp}/chimera-realsize
LLAMA=""
THREADS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --llama-cpp) LLAMA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "bench-realsize: unknown option $1" >&2; exit 2 ;;
  esac
done
PY=training/.venv/bin/python
MIRROR=(--index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels)
if [ ! -x "$PY" ]; then
  echo "bench-realsize: setting up training/.venv" >&2
  python3 -m venv training/.venv
  training/.venv/bin/pip install -q --disable-pip-version-check "${MIRROR[@]}" -r training/requirements.txt
fi
mkdir -p "$OUT"
step() { echo "bench-realsize: $*" >&2; }

if [ ! -f "$OUT/ckpt/config.json" ]; then
  step "building the 0.5B-shaped checkpoint in $OUT/ckpt"
  (cd training && .venv/bin/python -m chimera_train realsize-checkpoint --out "$OUT/ckpt" --node-modules ../node_modules >&2)
fi
for q in fp32 int8 int4; do
  if [ ! -f "$OUT/pkg-$q/chimera.json" ]; then
    step "converting to $q"
    quant=(); [ "$q" != fp32 ] && quant=(--quant "$q")
    (cd training && /usr/bin/time -f "bench-realsize: $q conversion peak RSS %M KB, %e s" \
      .venv/bin/python -m chimera_train convert "$OUT/ckpt" --out "$OUT/pkg-$q" "${quant[@]}" > /dev/null)
  fi
done

npx esbuild scripts/bench-model.ts --bundle --platform=node --external:onnxruntime-node \
  --outfile=out/scripts/bench-model.js --log-level=warning
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

llama_gguf() {  # precision -> gguf path (built once)
  local file="$OUT/llama-$1.gguf"
  if [ ! -f "$file" ]; then
    if [ "$1" = F16 ]; then
      "$PY" -c "import sentencepiece" 2>/dev/null || training/.venv/bin/pip install -q "${MIRROR[@]}" sentencepiece
      step "llama.cpp: converting to F16"
      PYTHONPATH="$LLAMA/gguf-py" "$PY" "$LLAMA/convert_hf_to_gguf.py" "$OUT/ckpt" --outtype f16 --outfile "$file" > /dev/null 2>&1
    else
      step "llama.cpp: quantizing to $1"
      "$LLAMA/build/bin/llama-quantize" "$(llama_gguf F16)" "$file" "$1" "$THREADS" > /dev/null 2>&1
    fi
  fi
  echo "$file"
}

llama_bench() {  # precision: prompt 512, decode 128, and single batches of T = 1..16 for c(T)
  local gguf; gguf=$(llama_gguf "$1")
  local main rss
  main=$( { /usr/bin/time -f "RSS %M" "$LLAMA/build/bin/llama-bench" -m "$gguf" -p 512 -n 128 -t "$THREADS" -r 3 -o json; } 2> "$OUT/time.txt")
  rss=$(grep -o 'RSS [0-9]*' "$OUT/time.txt" | awk '{print $2}')
  local curve
  curve=$("$LLAMA/build/bin/llama-bench" -m "$gguf" -p 1,2,4,8,16 -n 0 -t "$THREADS" -r 3 -o json 2>/dev/null)
  "$PY" - "$1" "$rss" "$gguf" <<EOF >> "$RESULTS"
import json, sys
main, curve = json.loads('''$main'''), json.loads('''$curve''')
pp = next(r["avg_ts"] for r in main if r["n_prompt"] > 0)
tg = next(r["avg_ts"] for r in main if r["n_gen"] > 0)
ms = {r["n_prompt"]: 1000 * r["n_prompt"] / r["avg_ts"] for r in curve}
print(json.dumps({"engine": "llama.cpp", "precision": sys.argv[1], "package": sys.argv[3],
                  "promptTokensPerSecond": round(pp, 2), "decodeTokensPerSecond": round(tg, 2),
                  "verifyMs": {t: round(v, 2) for t, v in sorted(ms.items())},
                  "verifyRelative": {t: round(v / ms[1], 2) for t, v in sorted(ms.items())},
                  "rssMB": {"peak": round(int(sys.argv[2]) / 1024)}}))
EOF
}

for pair in "fp32 F16" "int8 Q8_0" "int4 Q4_K_M"; do
  set -- $pair
  step "measuring chimera $1"
  # bench-model reports its own lifetime peak (getrusage, what /usr/bin/time reads) as rssMB.peak: a later
  # start's. Its first start (files hashed, cost profile measured) runs in a child, reported apart.
  CHIMERA_THREADS=$THREADS node out/scripts/bench-model.js --model "$OUT/pkg-$1" > "$OUT/chimera.json"
  "$PY" - "$OUT/chimera.json" <<'EOF' >> "$RESULTS"
import json, sys
r = json.load(open(sys.argv[1]))
r["engine"] = "chimera"
print(json.dumps(r))
EOF
  if [ -n "$LLAMA" ]; then
    step "measuring llama.cpp $2"
    llama_bench "$2"
  fi
done

"$PY" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(json.dumps({"machine": open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
                  "results": rows}, indent=1))
lines = ["| Engine | Precision | Decode tok/s | Prompt (512) tok/s | c(8)/c(1) | c(16)/c(1) | Peak RSS (process) | First start's peak |", "|---|---|---|---|---|---|---|---|"]
for r in rows:
    rel = r["verifyRelative"]
    rss = r["rssMB"]["peak"]
    lines.append(f"| {r['engine']} | {r['precision']} | {r['decodeTokensPerSecond']} | {r['promptTokensPerSecond']} | "
                 f"{rel.get('8', rel.get(8))} | {rel.get('16', rel.get(16))} | {rss} MB | {r['rssMB'].get('firstStartPeak', '')} |")
print("\n".join(lines), file=sys.stderr)
EOF
