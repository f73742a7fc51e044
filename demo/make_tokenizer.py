"""Trains a demo model's byte-level BPE tokenizer (GPT-2's scheme; 512 tokens for demo/model,
more for the larger model of demo/make-larger-model.sh) on the pretraining text with Hugging
Face `tokenizers` (the reference library), and writes it as a model directory's tokenizer
files: tokenizer.json, vocab.json + merges.txt, tokenizer_config.json.

Usage: python3 demo/make_tokenizer.py TEXT OUT_DIR [VOCAB_SIZE [MAX_LENGTH]]   (512, 128)
"""
import json
import os
import sys

from tokenizers import ByteLevelBPETokenizer


def main(text_path, out_dir, vocab_size="512", max_length="128"):
    os.makedirs(out_dir, exist_ok=True)
    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    # Deterministic: BPE training breaks ties by order, and there is no sampling.
    tokenizer.train(files=[text_path], vocab_size=int(vocab_size), min_frequency=2,
                    special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    tokenizer.save_model(out_dir)  # vocab.json + merges.txt, GPT-2's file pair
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>", "model_max_length": int(max_length),
                   "tokenizer_class": "GPT2Tokenizer"}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
