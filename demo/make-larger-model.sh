#!/usr/bin/env bash
# Makes runs/larger-model/, the larger GPT-2 of the LoFT / LoRA / AdamW comparison in
# docs/loft.md ("Comparing methods on a language model", the larger model):
#   1. the pretraining text: the whole King James Bible (Debian's bible-kjv-text, through its
#      `bible` program; apt-get install bible-kjv) except Proverbs, the book the comparison
#      fine-tunes on (Proverbs 1-27) and evaluates on (28-31): 4.06 MB, one verse a line;
#   2. a 4096-token byte-level BPE tokenizer trained on that text by Hugging Face `tokenizers`
#      (demo/make_tokenizer.py; pip install tokenizers);
#   3. a GPT-2 of demo/larger-model-config.json (6 layers, 384 wide, 6 heads, 128 positions,
#      12.3M parameters) initialised as transformers does and pretrained from scratch on the
#      text by `loft finetune --init ... --optimizer adamw --targets all` (the last 2% of the
#      text, the end of Revelation, held out for the eval loss).
# The model (about 49 MB in float32) is not committed: runs/ is ignored. The pretraining log
# is committed as demo/larger-model-pretraining-log.csv.
#   usage: bash demo/make-larger-model.sh [path/to/loft] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
loft=${1:-.build/release/loft}
steps=${2:-320}
command -v bible >/dev/null || { echo "needs the bible program: apt-get install bible-kjv" >&2; exit 1; }
work=runs/larger-work
rm -rf "$work"
mkdir -p "$work"

# The same extraction as demo/make-text.sh: verse numbers and chapter headings dropped.
bible -l0 gen1:1-ps150:6 eccl1:1-rev22:21 |
    sed -E '/^[1-3]? ?[A-Z][A-Za-z ]+ [0-9]+$/d; s/^ *[0-9]+ //' | cat -s | sed '1{/^$/d}' \
    > "$work/kjv-without-proverbs.txt"

python3 demo/make_tokenizer.py "$work/kjv-without-proverbs.txt" "$work/tokenizer" 4096 128
nice -n 5 "$loft" finetune --init demo/larger-model-config.json --tokenizer "$work/tokenizer" \
    --data "$work/kjv-without-proverbs.txt" --eval-fraction 0.02 --eval-interval 80 \
    --optimizer adamw --targets all --lr 1.5e-3 --steps "$steps" --batch 16 --seq 128 --seed 0 \
    --out "$work/run"

rm -rf runs/larger-model
mkdir -p runs/larger-model
for f in config.json model.safetensors tokenizer.json vocab.json merges.txt tokenizer_config.json; do
    cp "$work/run/$f" runs/larger-model/
done
cp "$work/run/log.csv" demo/larger-model-pretraining-log.csv
"$loft" inspect runs/larger-model
