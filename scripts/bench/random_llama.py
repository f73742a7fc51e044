#!/usr/bin/env python3
"""Writes a LLaMA-layout checkpoint of a real model's shape with random bf16 weights, for
memory and speed measurements of models too large to download here (docs/benchmarks.md).

    python3 scripts/bench/random_llama.py llama-3.2-1b /tmp/llama1b
    python3 scripts/bench/random_llama.py mistral-7b /tmp/mistral7b      # 14.5 GB

DIR gets config.json and model.safetensors (BF16, streamed tensor by tensor, so memory stays
at one tensor). Matrices are uniform with standard deviation 0.02 (the initializer range),
norm weights 1. Only numpy is needed.
"""
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "llama-3.2-1b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
        "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
        "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "hidden_act": "silu",
        "attention_bias": False, "mlp_bias": False, "bos_token_id": 128000, "eos_token_id": 128001,
    },
    "mistral-7b": {
        "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "vocab_size": 32000, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "rope_theta": 1000000.0,
        "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
        "bos_token_id": 1, "eos_token_id": 2,
    },
}


def tensors(config):
    """(name, shape) in checkpoint order."""
    C, I, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    d = config["head_dim"]
    Q, KV = config["num_attention_heads"] * d, config["num_key_value_heads"] * d
    yield "model.embed_tokens.weight", (V, C)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (C,)
        yield p + "self_attn.q_proj.weight", (Q, C)
        yield p + "self_attn.k_proj.weight", (KV, C)
        yield p + "self_attn.v_proj.weight", (KV, C)
        yield p + "self_attn.o_proj.weight", (C, Q)
        yield p + "post_attention_layernorm.weight", (C,)
        yield p + "mlp.gate_proj.weight", (I, C)
        yield p + "mlp.up_proj.weight", (I, C)
        yield p + "mlp.down_proj.weight", (C, I)
    yield "model.norm.weight", (C,)
    if not config["tie_word_embeddings"]:
        yield "lm_head.weight", (V, C)


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = x.view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SHAPES:
        sys.exit(f"usage: random_llama.py {{{','.join(SHAPES)}}} DIR")
    config, out = SHAPES[sys.argv[1]], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    layout = list(tensors(config))
    for name, shape in layout:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    rng = np.random.default_rng(0)
    bound = np.float32(0.02 * 3 ** 0.5)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        for name, shape in layout:
            if len(shape) == 1:
                f.write(np.full(shape, 0x3F80, dtype=np.uint16).tobytes())
                continue
            rows_per_chunk = max(1, (1 << 24) // shape[1])
            for start in range(0, shape[0], rows_per_chunk):
                rows = min(rows_per_chunk, shape[0] - start)
                x = rng.random((rows, shape[1]), dtype=np.float32) * (2 * bound) - bound
                f.write(bf16_bits(x).tobytes())
    print(f"{out}: {len(layout)} tensors, {offset / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
