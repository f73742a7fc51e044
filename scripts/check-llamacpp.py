#!/usr/bin/env python3
"""Does llama.cpp run what loft writes? (needs llama_cpp, from `pip install llama-cpp-python`,
which builds llama.cpp from source; plus torch, transformers, safetensors, numpy)

For the shipped demo model (demo/model, a tiny GPT-2) and a tiny LLaMA fixture
(fixtures/llama/gqa, grouped-query attention, untied head):
  - loft convert MODEL X.gguf --dtype f32 | f16 | q8_0 | q4_k_m
  - llama.cpp loads each file and computes next-token logits for fixed token sequences;
    they are compared with transformers' logits for the same tokens (loft's own forward
    pass matches transformers to 1e-5 in its test suite):
      f32, f16   max |difference| / (max - min of the reference logits) <= 2e-3
      q8_0       the same top token at >= 90% of positions
      q4_k_m     loads and its logits are finite (reported: top-token agreement)
  - the LLaMA-layout families (fixtures/families: mistral, qwen2, qwen3, phi3), --dtype f32,
    on the first 5 tokens of their inputs (no longer than any fixture's sliding window, which
    llama.cpp's llama and qwen2 graphs do not have): the same 2e-3 bound.
  - Gemma 3 (fixtures/families/gemma3's weights), --dtype f32, f16, q8_0, on the whole input
    rows (longer than its sliding window 5, so the window is exercised). llama.cpp's gemma3
    fixes which layers slide (each 6th is full), the sliding rope base and the attention
    scale (1/sqrt(head_dim)); the fixture's config differs (layer 1 full, query_pre_attn_scalar
    20) and loft refuses it, so the weights run with a config llama.cpp reproduces (both
    layers sliding, query_pre_attn_scalar 12), written into a scratch copy. Also checked:
    that file against transformers on the fixture's own config differs (> 2e-3), the reason
    for the refusal. Its LoRA adapter (merged into a GGUF, and as a GGUF adapter on the f32
    base) against PEFT on the same config (needs peft; skipped without it): 2e-3.
  - LoRA (fixtures/llama/gqa/adapter): loft merge --out merged.gguf --dtype f32, and
    loft convert ADAPTER adapter.gguf loaded on the f32 base with llama.cpp's LoRA: both
    against PEFT's logits (fixtures/llama/gqa/expected.safetensors) and each other.
  - SentencePiece tokenizers (fixtures/tokenizers/llama2, gemma, metaspace, metaspace-split,
    each beside a tiny model: fixtures/llama/gqa, Gemma 3's weights): loft convert writes
    tokenizer.ggml.model "llama"; llama.cpp (vocab only, add_bos, special tokens parsed as
    `tokenizers` does) against `tokenizers` on every fixture text. llama2 and gemma: every
    text the same ids. metaspace*: the same except texts starting with whitespace or "▁" (the
    Metaspace pre-tokenizer adds no second "▁" there, llama.cpp's SentencePiece always
    prepends one) and texts with added tokens (Metaspace prepends to the first piece only;
    an added token spelled with "▁" matches a space in `tokenizers`, not in llama.cpp) and,
    for ignore_merges (metaspace-split), words that are whole tokens.
  - Rope scaling (fixtures/rope, --only rope runs just these): the llama3 LLaMA model (loft
    writes rope_freqs.weight), the linear one (llama.rope.scaling.*) and Gemma 3 with linear
    scaling on its global layer, --dtype f32, on two random rows of 64 tokens (the fixtures'
    whole context, where the scaling matters most): within 5e-4 of the logits' range (measured
    1.0e-4 to 1.6e-4: llama.cpp's f32 rope differs from torch's in rounding). Each check also
    reports how far transformers' logits move without the scaling, and fails unless that is
    more than 5e-4, so the bound would catch a dropped scaling (measured: llama3 2.1e-3,
    linear 0.27, Gemma 3 0.048).
Exit status 0 when every check passes, 1 otherwise, 77 (skipped) without llama_cpp.
Usage: scripts/check-llamacpp.py [--loft PATH] [--json] [--only rope]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loft", default=str(ROOT / ".build/debug/loft"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["rope"], help="run only these checks")
    args = parser.parse_args()
    try:
        import llama_cpp  # noqa: F401
        import numpy as np  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        print(f"skipped: {error.name} is not installed (pip install llama-cpp-python)")
        return 77
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        if args.only == "rope":
            results += check_rope(args.loft, scratch)
        else:
            results += check_everything(args.loft, scratch)
    failed = [r for r in results if not r["ok"]]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['check']}: {r['detail']}")
        print(f"{len(results) - len(failed)} of {len(results)} checks passed")
    return 1 if failed else 0


def check_everything(binary, scratch):
    results = []
    results += check_model(binary, ROOT / "demo/model", "gpt2", scratch)
    results += check_model(binary, ROOT / "fixtures/llama/gqa", "llama", scratch)
    for family in ["mistral", "qwen2", "qwen3", "phi3"]:
        results += check_model(binary, ROOT / "fixtures/families" / family, family, scratch, dtypes=["f32"])
    results += check_gemma3(binary, scratch)
    results += check_lora(binary, ROOT / "fixtures/llama/gqa", scratch)
    results += check_sentencepiece(binary, scratch)
    results += check_rope(binary, scratch)
    return results


def check_rope(binary, scratch):
    """loft's GGUF files of the rope-scaled fixtures against transformers, on the fixtures' whole
    64-token context; and how far the logits move without the scaling (the check's power)."""
    import numpy as np
    results = []
    rows = np.random.default_rng(1).integers(0, 96, size=(2, 64))
    for name in ["llama3", "linear", "gemma3-linear"]:
        directory = ROOT / "fixtures/rope" / name
        reference = transformers_logits(directory, rows)
        path = scratch / f"rope-{name}.gguf"
        loft(binary, "convert", directory, path, "--dtype", "f32")
        error, agree, _ = compare(reference, llamacpp_logits(path, rows))
        unscaled, _, _ = compare(reference, transformers_logits(directory, rows, unscaled=True))
        results.append(dict(check=f"rope {name} f32", ok=error <= 5e-4 < unscaled, relative_error=error, without_scaling=unscaled,
                            top_token_agreement=agree,
                            detail=f"max |diff| / range {error:.2e} (without the scaling transformers moves {unscaled:.2e}), same top token {agree:.0%}"))
    return results


def loft(binary, *arguments):
    result = subprocess.run([binary, *map(str, arguments)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"loft {' '.join(map(str, arguments))} failed: {result.stderr}")
    return result.stdout


def token_rows(vocab, model):
    import numpy as np
    from safetensors.numpy import load_file
    if model == "gemma3":
        return load_file(str(ROOT / "fixtures/families/gemma3/input_ids.safetensors"))["input_ids"].astype(np.int64)
    if model == "llama":
        return load_file(str(ROOT / "fixtures/llama/gqa/input_ids.safetensors"))["input_ids"].astype(np.int64)
    if model != "gpt2":
        return load_file(str(ROOT / f"fixtures/families/{model}/input_ids.safetensors"))["input_ids"][:, :5].astype(np.int64)
    return np.random.default_rng(0).integers(1, vocab, size=(2, 24))


def transformers_logits(directory, rows, unscaled=False):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    config = AutoConfig.from_pretrained(str(directory))
    if unscaled:  # the same model with default rope (only rope_parameters-spelled configs)
        rope = config.rope_parameters
        for parameters in ([rope["full_attention"]] if "full_attention" in rope else [rope]):
            theta = parameters["rope_theta"]
            parameters.clear()
            parameters.update(rope_type="default", rope_theta=theta)
    model = AutoModelForCausalLM.from_pretrained(str(directory), config=config, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(rows)).logits.numpy()


def llamacpp_logits(path, rows, lora=None):
    import numpy as np
    from llama_cpp import Llama
    options = dict(model_path=str(path), n_ctx=64, logits_all=True, verbose=False, n_threads=2, seed=0)
    if lora:
        options["lora_path"] = str(lora)
    llm = Llama(**options)
    out = []
    for row in rows:
        llm.reset()
        llm.eval([int(t) for t in row])
        out.append(np.array(llm.scores[:len(row)], dtype=np.float32))
    return np.stack(out)


def compare(reference, logits):
    import numpy as np
    spread = float(reference.max() - reference.min())
    error = float(np.abs(reference - logits).max()) / spread
    agree = float((reference.argmax(-1) == logits.argmax(-1)).mean())
    return error, agree, bool(np.isfinite(logits).all())


def check_model(binary, directory, name, scratch, dtypes=("f32", "f16", "q8_0", "q4_k_m")):
    config = json.loads((directory / "config.json").read_text())
    rows = token_rows(config["vocab_size"], name)
    reference = transformers_logits(directory, rows)
    results = []
    for dtype in dtypes:
        path = scratch / f"{name}-{dtype}.gguf"
        loft(binary, "convert", directory, path, "--dtype", dtype)
        logits = llamacpp_logits(path, rows)
        error, agree, finite = compare(reference, logits)
        if dtype in ("f32", "f16"):
            ok = error <= 2e-3
        elif dtype == "q8_0":
            ok = agree >= 0.9
        else:
            ok = finite
        results.append(dict(check=f"{name} {dtype}", ok=ok, relative_error=error, top_token_agreement=agree,
                            detail=f"max |diff| / range {error:.2e}, same top token {agree:.0%}, {path.stat().st_size} bytes"))
    return results


def check_gemma3(binary, scratch):
    import shutil
    fixture = ROOT / "fixtures/families/gemma3"
    directory = scratch / "gemma3"
    shutil.copytree(fixture, directory, ignore=shutil.ignore_patterns("adapter"))
    config = json.loads((fixture / "config.json").read_text())
    config.update(layer_types=["sliding_attention"] * config["num_hidden_layers"], query_pre_attn_scalar=config["head_dim"])
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    results = check_model(binary, directory, "gemma3", scratch, dtypes=("f32", "f16", "q8_0"))
    rows = token_rows(0, "gemma3")
    error, agree, _ = compare(transformers_logits(fixture, rows), llamacpp_logits(scratch / "gemma3-f32.gguf", rows))
    results.append(dict(check="gemma3 fixture's own config (refused by loft) would differ", ok=error > 2e-3, relative_error=error,
                        top_token_agreement=agree, detail=f"max |diff| / range {error:.2e}, same top token {agree:.0%}"))
    # The fixture's LoRA adapter, merged into a GGUF and as a GGUF adapter on the f32 base, against PEFT.
    try:
        import peft  # noqa: F401
    except ImportError:
        print("gemma3 LoRA checks skipped: peft is not installed")
        return results
    reference = peft_logits(directory, fixture / "adapter", rows)
    merged, adapter = scratch / "gemma3-merged.gguf", scratch / "gemma3-adapter.gguf"
    loft(binary, "merge", "--base", directory, "--adapter", fixture / "adapter", "--out", merged, "--dtype", "f32")
    loft(binary, "convert", fixture / "adapter", adapter)
    for label, logits in [("merged.gguf", llamacpp_logits(merged, rows)),
                          ("base.gguf + adapter.gguf", llamacpp_logits(scratch / "gemma3-f32.gguf", rows, lora=adapter))]:
        error, agree, _ = compare(reference, logits)
        results.append(dict(check=f"gemma3 LoRA {label} vs PEFT", ok=error <= 2e-3, relative_error=error, top_token_agreement=agree,
                            detail=f"max |diff| / range {error:.2e}, same top token {agree:.0%}"))
    return results


def check_sentencepiece(binary, scratch):
    import shutil
    try:
        import tokenizers
    except ImportError:
        print("SentencePiece tokenizer checks skipped: tokenizers is not installed")
        return []
    import llama_cpp
    results = []
    for name, model in [("llama2", "llama/gqa"), ("gemma", "families/gemma3"), ("metaspace", "llama/gqa"), ("metaspace-split", "llama/gqa")]:
        directory = scratch / f"spm-{name}"
        shutil.copytree(ROOT / "fixtures" / model, directory, ignore=shutil.ignore_patterns("adapter", "sharded*", "tokenizer*"))
        for file in (ROOT / "fixtures/tokenizers" / name).iterdir():
            shutil.copy(file, directory / file.name)
        if name == "gemma":  # the config llama.cpp reproduces (see check_gemma3)
            config = json.loads((directory / "config.json").read_text())
            config.update(layer_types=["sliding_attention"] * config["num_hidden_layers"], query_pre_attn_scalar=config["head_dim"])
            (directory / "config.json").write_text(json.dumps(config, indent=1))
        path = scratch / f"spm-{name}.gguf"
        loft(binary, "convert", directory, path, "--dtype", "f32")
        reference = tokenizers.Tokenizer.from_file(str(directory / "tokenizer.json"))
        vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        texts = [case["text"] for case in json.loads((ROOT / f"fixtures/tokenizers/{name}-expected.json").read_text())["cases"]]
        differing = [t for t in texts if reference.encode(t).ids != vocab.tokenize(t.encode(), add_bos=True, special=True)]
        as_text = sum(reference.encode(t).ids == vocab.tokenize(t.encode(), add_bos=True, special=False) for t in texts)
        definition = json.loads((directory / "tokenizer.json").read_text())
        added = [token["content"] for token in definition["added_tokens"]]
        # ignore_merges: a word that is a whole token is that token, however merges would go.
        whole = [w for w in definition["model"]["vocab"] if definition["model"].get("ignore_merges") and w.startswith("▁") and len(w) > 1]
        # Metaspace's known differences: a text starting with whitespace or "▁", text around an
        # added token (Metaspace prepends "▁" to the first piece only; an added token written
        # with "▁" matches a space in `tokenizers`, only itself in llama.cpp), and ignore_merges.
        explained = [t for t in differing if name.startswith("metaspace") and (t[:1].isspace() or t.startswith("▁") or
                     any(a in t or a.replace("▁", " ") in t for a in added) or any(w[1:] in t.split() for w in whole))]
        ok = len(differing) == len(explained)
        results.append(dict(check=f"SentencePiece tokenizer {name} (llama.cpp vs tokenizers)", ok=ok, agreement=1 - len(differing) / len(texts),
                            detail=f"same ids on {len(texts) - len(differing)} of {len(texts)} texts"
                                   + (f" ({len(explained)} differ where Metaspace tokenizes unlike SentencePiece)" if explained else "") + "; "
                                   f"{as_text} with special tokens read as text"))
    return results


def peft_logits(directory, adapter, rows):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32), str(adapter))
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(rows)).logits.numpy()


def check_lora(binary, directory, scratch):
    from safetensors.numpy import load_file
    rows = token_rows(0, "llama")
    reference = load_file(str(directory / "expected.safetensors"))["logits"]
    base = scratch / "llama-f32.gguf"
    merged = scratch / "llama-merged.gguf"
    adapter = scratch / "llama-adapter.gguf"
    loft(binary, "merge", "--base", directory, "--adapter", directory / "adapter", "--out", merged, "--dtype", "f32")
    loft(binary, "convert", directory / "adapter", adapter)
    merged_logits = llamacpp_logits(merged, rows)
    lora_logits = llamacpp_logits(base, rows, lora=adapter)
    results = []
    for label, logits in [("merged.gguf", merged_logits), ("base.gguf + adapter.gguf", lora_logits)]:
        error, agree, _ = compare(reference, logits)
        results.append(dict(check=f"llama LoRA {label} vs PEFT", ok=error <= 2e-3, relative_error=error, top_token_agreement=agree,
                            detail=f"max |diff| / range {error:.2e}, same top token {agree:.0%}"))
    error, agree, _ = compare(merged_logits, lora_logits)
    results.append(dict(check="llama merged.gguf vs base + adapter.gguf", ok=error <= 2e-3, relative_error=error, top_token_agreement=agree,
                        detail=f"max |diff| / range {error:.2e}, same top token {agree:.0%}"))
    return results


if __name__ == "__main__":
    sys.exit(main())
