#!/usr/bin/env bash
# Makes demo/model/, the tiny GPT-2 that `make demo` inspects, fine-tunes and merges:
#   1. a 512-token byte-level BPE tokenizer trained on demo/text/genesis-exodus.txt by Hugging
#      Face `tokenizers` (demo/make_tokenizer.py; pip install tokenizers);
#   2. a GPT-2 of demo/model-config.json (4 layers, 64 wide, 2 heads, 128 positions, 241k
#      parameters) initialised as transformers does and pretrained from scratch on the same
#      text by `loft finetune --init ... --optimizer adamw --targets all` (a few minutes on 2 cores).
# The result (config.json, model.safetensors in float32, tokenizer files) is committed, with the
# pretraining log as demo/model-pretraining-log.csv.
#   usage: bash demo/make-model.sh [path/to/loft]
set -euo pipefail
cd "$(dirname "$0")/.."
loft=${1:-.build/release/loft}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 demo/make_tokenizer.py demo/text/genesis-exodus.txt "$work/tokenizer"
"$loft" finetune --init demo/model-config.json --tokenizer "$work/tokenizer" \
    --data demo/text/genesis-exodus.txt --eval-fraction 0.05 \
    --optimizer adamw --targets all --lr 3e-3 --steps 2500 --batch 16 --seq 128 --seed 0 \
    --out "$work/run"

rm -rf demo/model
mkdir -p demo/model
for f in config.json model.safetensors tokenizer.json vocab.json merges.txt tokenizer_config.json; do
    cp "$work/run/$f" demo/model/
done
cp "$work/run/log.csv" demo/model-pretraining-log.csv
"$loft" inspect demo/model
