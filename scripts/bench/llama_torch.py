#!/usr/bin/env python3
"""PyTorch + PEFT LoRA fine-tuning steps on a random LLaMA of the SmolLM-135M shape, GPT-2 124M
(--shape), or any config.json (--config, as scripts/bench/bench_families.py gives Qwen2.5 and
Gemma 3 shapes): the reference side of scripts/bench-llama.sh.

Same work as `loft experiment llama-step`: batch x seq random tokens, LoRA (rank r, alpha r)
on every projection (LLaMA's seven; GPT-2's c_attn, c_proj, c_fc), forward + backward +
AdamW on the LoRA factors, two threads, one warm-up step then `--steps` timed ones. The base
is float32, or bf16 with `--base-dtype bf16` (PEFT keeps the LoRA factors float32). Prints
one JSON object: tokens/s, seconds per step (and its parts), peak resident set (VmHWM).
"""
import argparse
import json
import time


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--layers", type=int, default=None, help="default: the shape's (30 SmolLM, 12 GPT-2)")
    parser.add_argument("--shape", default="smollm-135m", choices=["smollm-135m", "gpt2-124m"])
    parser.add_argument("--base-dtype", default="f32", choices=["f32", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attention", default="sdpa", help="transformers attn_implementation (sdpa, eager)")
    parser.add_argument("--config", help="a config.json (any causal LM transformers knows) instead of the SmolLM-135M shape")
    args = parser.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.config:
        from transformers import AutoConfig, AutoModelForCausalLM
        with open(args.config) as file:
            values = json.load(file)
        config = AutoConfig.for_model(values.pop("model_type"), **values)
        model = AutoModelForCausalLM.from_config(config)
        targets, fan_in_fan_out = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False
    elif args.shape == "gpt2-124m":
        config = GPT2Config(n_layer=args.layers or 12)
        model = GPT2LMHeadModel(config)
        targets, fan_in_fan_out = ["c_attn", "c_proj", "c_fc"], True
    else:
        config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=args.layers or 30,
                             num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                             rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True)
        model = LlamaForCausalLM(config)
        targets, fan_in_fan_out = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False
    model.config._attn_implementation = args.attention
    if args.base_dtype == "bf16":
        model = model.to(torch.bfloat16)
    model.train()
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=args.rank, target_modules=targets, lora_dropout=0.0,
                                             fan_in_fan_out=fan_in_fan_out))
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-4, eps=1e-4, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), generator=generator)

    forward = backward = update = cpu = 0.0
    for step in range(args.steps + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        t3 = time.perf_counter()
        if step > 0:
            cpu += time.process_time() - c0
            forward += t1 - t0
            backward += t2 - t1
            update += t3 - t2
    per_step = (forward + backward + update) / args.steps
    print(json.dumps({
        "tokens_per_second": args.batch * args.seq / per_step, "seconds_per_step": per_step, "cpu_seconds_per_step": cpu / args.steps,
        "forward_backward_seconds": (forward + backward) / args.steps,
        "optimizer_seconds": update / args.steps, "peak_rss_mib": peak_rss_mib(),
        "trainable_parameters": sum(p.numel() for p in parameters), "loss": loss.item(),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "attention": args.attention,
        "base_dtype": args.base_dtype, "lora_dtype": str(parameters[0].dtype).replace("torch.", ""),
    }))


if __name__ == "__main__":
    main()
