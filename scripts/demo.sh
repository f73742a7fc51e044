#!/usr/bin/env bash
# `make demo`: the main job on the shipped default, in four steps, each command printed before
# it runs. Inputs: demo/model (a tiny GPT-2 made by demo/make-model.sh) and demo/text (public
# domain). Outputs: demo-out/, rewritten on each run.
#   usage: bash scripts/demo.sh [path/to/loft]        (DEMO_STEPS=300 to train longer)
set -euo pipefail
cd "$(dirname "$0")/.."
LOFT=$(realpath "${1:-.build/release/loft}")
out=demo-out
model=demo/model
train_text=demo/text/proverbs.txt
eval_text=demo/text/proverbs-eval.txt
prompt="My son, "
steps=${DEMO_STEPS:-150}
rm -rf "$out"
mkdir -p "$out"
start=$SECONDS

loft() { "$LOFT" "$@"; }
# Print the command (on stderr, so that `show ... | tee` keeps only the output), then run it.
show() {
    local words=() word
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./=:,+@%^-]+$ ]]; then words+=("$word"); else words+=("'$word'"); fi
    done
    printf '\n$ %s\n' "${words[*]}" >&2
    "$@"
}
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '   -> %s\n' "$*"; }
have_python() { command -v python3 >/dev/null 2>&1; }
json_field() { sed -E "s/.*\"$1\": *([^,}]*).*/\\1/"; }   # one number from loft eval --json

step "1. Inspect the shipped checkpoint, convert it to .npz and back, check the round trip"
show loft inspect "$model"
mkdir -p "$out/1-convert"
show loft convert "$model/model.safetensors" "$out/1-convert/model.npz"
show loft inspect "$out/1-convert/model.npz" --stats --filter h.0.attn
show loft convert "$out/1-convert/model.npz" "$out/1-convert/model.safetensors" --metadata format=pt
show loft diff "$model/model.safetensors" "$out/1-convert/model.safetensors" --atol 0 --rtol 0 | tail -n 3
show cmp "$model/model.safetensors" "$out/1-convert/model.safetensors"
say "exact: every value equal (atol 0, rtol 0), and the file byte-identical to the shipped one"

step "2. The synthetic experiment: fit B A to a rank-4 target (256 x 128) with LoFT, LoRA, full AdamW"
# At this size the learning rate is scaled by m n / (1024 * 512) from the paper's setting (docs/loft.md).
show loft experiment factorization --m 256 --n 128 --rank 4 --target-rank 4 --lr 0.625 --steps 300 --seed 1 \
    --out "$out/2-factorization"
say "loss curves: $out/2-factorization/losses.svg (LoFT follows full AdamW; LoRA-AdamW lags by orders of magnitude)"

step "3. LoFT fine-tuning of the shipped model (pretrained on Genesis and Exodus) on Proverbs"
mkdir -p "$out/3-finetune"
show loft eval --base "$model" --data "$eval_text" --seq 128 --json | tee "$out/3-finetune/eval-before.json"
show loft generate --base "$model" --prompt "$prompt" --max-tokens 40 --temperature 0.7 --top-k 40 --seed 1 \
    | tee "$out/3-finetune/sample-before.txt"
show loft finetune --base "$model" --data "$train_text" --eval-data "$eval_text" --optimizer loft --rank 8 \
    --lr 3e-3 --steps "$steps" --batch 16 --seq 128 --eval-interval 25 --out "$out/3-finetune/adapter"
show loft eval --base "$model" --adapter "$out/3-finetune/adapter" --data "$eval_text" --seq 128 --json \
    | tee "$out/3-finetune/eval-after.json"
show loft generate --base "$model" --adapter "$out/3-finetune/adapter" --prompt "$prompt" --max-tokens 40 \
    --temperature 0.7 --top-k 40 --seed 1 | tee "$out/3-finetune/sample-after.txt"
before=$(json_field loss < "$out/3-finetune/eval-before.json" | xargs printf '%.4f')
after=$(json_field loss < "$out/3-finetune/eval-after.json" | xargs printf '%.4f')
say "eval loss on held-out Proverbs 28-31: $before before, $after after (loss curve: $out/3-finetune/adapter/loss.svg)"
awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b) }' || { echo "error: fine-tuning did not lower the eval loss" >&2; exit 1; }

step "4. Merge the adapter into the base, check merged = base + adapter, same names, shapes and dtypes"
mkdir -p "$out/4-merge"
show loft merge --base "$model" --adapter "$out/3-finetune/adapter" --out "$out/4-merge/merged"
say "what changed: the adapted tensors differ from the base, the others are untouched (exit status 1 = they differ)"
show loft diff "$model" "$out/4-merge/merged" | grep -v ' ok$' || true

if have_python && python3 -c "import numpy" 2>/dev/null; then
    # An independent base + adapter: W + (lora_alpha / r) (B A)^T with NumPy, from .npz copies.
    loft convert "$out/3-finetune/adapter/adapter_model.safetensors" "$out/4-merge/adapter.npz" >/dev/null
    show python3 - "$out/1-convert/model.npz" "$out/4-merge/adapter.npz" "$out/3-finetune/adapter/adapter_config.json" \
        "$out/4-merge/expected.npz" <<'EOF'
import json, sys
import numpy as np
base, adapter, config = dict(np.load(sys.argv[1])), np.load(sys.argv[2]), json.load(open(sys.argv[3]))
scale = config["lora_alpha"] / config["r"]
for key in adapter.files:
    if key.endswith(".lora_A.weight"):
        module = key[len("base_model.model."):-len(".lora_A.weight")]
        a, b = adapter[key].astype(np.float64), adapter[key.replace("lora_A", "lora_B")].astype(np.float64)
        name = module + ".weight" if module + ".weight" in base else module.removeprefix("transformer.") + ".weight"
        delta = scale * (b @ a)                     # out x in; GPT-2's Conv1D stores in x out
        base[name] = (base[name].astype(np.float64) + delta.T).astype(np.float32)
np.savez(sys.argv[4], **base)
print(f"numpy: base + {scale:g} (B A)^T for {sum(k.endswith('lora_A.weight') for k in adapter.files)} modules")
EOF
    show loft diff "$out/4-merge/merged/model.safetensors" "$out/4-merge/expected.npz" --atol 1e-6 --rtol 1e-5 | tail -n 1
    loft diff "$out/4-merge/merged/model.safetensors" "$out/4-merge/expected.npz" --atol 1e-6 --rtol 1e-5 --json \
        > "$out/4-merge/diff-expected.json"
    worst=$(python3 -c 'import json, sys; print(max(t["max_abs"] for t in json.load(open(sys.argv[1]))["tensors"]))' \
        "$out/4-merge/diff-expected.json")
    say "merged weights vs base + (B A)^T computed by NumPy (float64, rounded once to float32): largest difference $worst"
else
    say "python3 with numpy not found: skipping the NumPy cross-check of the merged weights"
fi

show loft eval --base "$out/4-merge/merged" --data "$eval_text" --seq 128 --json | tee "$out/4-merge/eval-merged.json"
after_full=$(json_field loss < "$out/3-finetune/eval-after.json")
merged=$(json_field loss < "$out/4-merge/eval-merged.json")
say "eval loss: base + adapter $after_full, merged model $merged"
awk -v a="$after_full" -v m="$merged" 'BEGIN { d = a - m; if (d < 0) d = -d; exit !(d < 1e-5) }' \
    || { echo "error: merged eval loss differs from base + adapter by more than 1e-5" >&2; exit 1; }

loft inspect "$model" --json > "$out/4-merge/base.json"
loft inspect "$out/4-merge/merged" --json > "$out/4-merge/merged.json"
if have_python; then
    show python3 - "$out/4-merge/base.json" "$out/4-merge/merged.json" <<'EOF'
import json, sys
base, merged = (json.load(open(p)) for p in sys.argv[1:3])
layout = lambda doc: [(t["name"], t["dtype"], t["shape"]) for t in doc["tensors"]]
assert layout(base) == layout(merged), "merged tensors differ from the base's in names, shapes or dtypes"
print(f"same {len(layout(base))} tensors, names, shapes and dtypes; {merged['totals']['parameters']:,} parameters,"
      f" {merged['totals']['bytes']:,} bytes in both: the merged model costs what the base costs to run")
EOF
else
    # Without python3: the text tables list name, dtype, shape, parameters and bytes per tensor.
    show diff <(loft inspect "$model" | tail -n +2) <(loft inspect "$out/4-merge/merged" | tail -n +2)
    say "same tensors, names, shapes and dtypes: the merged model costs what the base costs to run"
fi

printf '\n%sdemo finished in %d s; outputs in %s%s\n' "$bold" $((SECONDS - start)) "$(realpath "$out")" "$plain"
