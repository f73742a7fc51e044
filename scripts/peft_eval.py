#!/usr/bin/env python3
"""The evaluation loss of `loft eval`, computed with PyTorch + transformers + PEFT.

    python3 scripts/peft_eval.py --base MODEL_DIR [--adapter ADAPTER_DIR] --data FILE [--seq T] [--json]

MODEL_DIR is a Hugging Face GPT-2 directory (config.json + model.safetensors), loaded with
GPT2LMHeadModel.from_pretrained in float32; ADAPTER_DIR a PEFT LoRA adapter (for example one
written by `loft finetune`), loaded with PeftModel.from_pretrained. FILE is a token file
(.npy of uint16/int32/int64, or raw uint16 .bin) or a text file tokenized with the tokenizer
in MODEL_DIR (no special tokens added).

The definition (docs/commands/eval.md): cut the tokens into consecutive non-overlapping
chunks of T tokens (the last may be shorter; a chunk of one token is dropped); for each chunk
`model(input_ids=chunk, labels=chunk)` (position t predicts token t+1, so L-1 predictions);
loss = sum over chunks of (chunk loss x predictions) / all predictions; perplexity = exp(loss).
Default T = min(1024, n_positions), as loft eval.
"""
import argparse
import json
import math
import pathlib

import numpy as np


def read_tokens(path, model_dir):
    path = pathlib.Path(path)
    if path.suffix == ".npy":
        return np.load(path).reshape(-1).astype(np.int64)
    if path.suffix == ".bin":
        return np.fromfile(path, dtype="<u2").astype(np.int64)
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return np.array(tokenizer(path.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"], dtype=np.int64)


def chunk_loss(model, tokens, seq):
    """(mean loss, predictions) over non-overlapping chunks of `seq` tokens."""
    import torch
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(tokens), seq):
            chunk = tokens[start:start + seq]
            if len(chunk) < 2:
                continue
            ids = torch.tensor(chunk, dtype=torch.long).unsqueeze(0)
            loss = model(input_ids=ids, labels=ids).loss
            total += float(loss) * (len(chunk) - 1)
            count += len(chunk) - 1
    return total / count, count


def load(base, adapter=None):
    import torch
    from transformers import GPT2LMHeadModel
    model = GPT2LMHeadModel.from_pretrained(base, torch_dtype=torch.float32, attn_implementation="eager").eval()
    if adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, adapter).eval()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--adapter")
    parser.add_argument("--data", required=True)
    parser.add_argument("--seq", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load(args.base, args.adapter)
    seq = args.seq or min(1024, model.config.n_positions)
    loss, count = chunk_loss(model, read_tokens(args.data, args.base), seq)
    if args.json:
        print(json.dumps({"loss": loss, "perplexity": math.exp(loss), "tokens": count}))
    else:
        print(f"loss {loss:.6f}  perplexity {math.exp(loss):.4f}  ({count} predictions)")


if __name__ == "__main__":
    main()
