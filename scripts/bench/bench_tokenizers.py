"""Benchmark group "tokenizers": encoding 1 MB of text with each tokenizer kind loft reads --
GPT-2 byte-level BPE, Qwen2's byte-level BPE (NFC, its pre-tokenizer regex), SentencePiece-
style BPE with byte fallback as LLaMA-2 / Mistral (Prepend + Replace normalizer) and Gemma
(Replace only) -- against the `tokenizers` library (Rust) on the same tokenizer.json and the
same bytes, in the same run.

The tokenizers are the committed fixtures (fixtures/tokenizers: small vocabularies, 900 to
2500 tokens, trained by the generators on the real pipelines), so the numbers compare the
pipelines, not the real vocabularies' sizes. Two texts of 1 MiB: "prose" (the Debian licence
texts of /usr/share/common-licenses, repeated) and "mixed" (every fixture test text: CJK,
emoji, code, whitespace runs, RTL, repeated). loft runs through loft-bench (release build):
best of 5 encodes on both cores, best of 3 on one core; `tokenizers` best of 5
`Tokenizer.encode` (one call, as loft's), and for context its `encode_batch` over the text's
lines (its multi-threaded path; other ids, since each line is encoded apart). The ids of the
one-call runs are compared by a hash of the whole list.
"""
import json
import pathlib
import subprocess
import sys
import time

import benchlib
from benchlib import OUT, ROOT, log

KINDS = [("gpt2", "GPT-2 byte-level BPE"), ("qwen2", "Qwen2 byte-level BPE (NFC, digits split)"),
         ("llama2", "SentencePiece BPE, LLaMA-2 / Mistral (Prepend + Replace, byte fallback)"),
         ("gemma", "SentencePiece BPE, Gemma (Replace, byte fallback)")]
MEGABYTE = 1 << 20


def texts():
    licences = pathlib.Path("/usr/share/common-licenses")
    prose = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(licences.glob("*")) if p.is_file())
    cases = [json.loads(line.rstrip(",\n"))["text"] for line in open(ROOT / "fixtures/tokenizers/gpt2-expected.json", encoding="utf-8")
             if line.startswith('{"text"')]
    mixed = " ".join(cases)
    result = {}
    for name, source in [("prose", prose), ("mixed", mixed)]:
        text = source
        while len(text.encode()) < MEGABYTE:
            text += "\n" + source
        encoded = text.encode()[:MEGABYTE].decode("utf-8", errors="ignore")
        path = OUT / f"tokenizer-{name}.txt"
        path.write_text(encoded, encoding="utf-8")
        result[name] = path
    return result


def fnv(ids):
    h = 1469598103934665603
    for i in ids:
        h = ((h ^ (i & 0xFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return format(h, "x")


def peer(name, path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(ROOT / "fixtures/tokenizers" / name / "tokenizer.json"))
    text = path.read_bytes().decode("utf-8")  # read_text would turn \r\n into \n
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=False).ids
        best = min(best, time.perf_counter() - start)
    lines = text.split("\n")
    batch = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        tok.encode_batch(lines, add_special_tokens=False)
        batch = min(batch, time.perf_counter() - start)
    return best, len(ids), fnv(ids), batch


def main():
    bench = ROOT / ".build/release/loft-bench"
    if not bench.exists():
        log("bench tokenizers: building loft-bench (release)")
        subprocess.run(["swift", "build", "-c", "release", "--product", "loft-bench"], cwd=ROOT, check=True)
    import tokenizers
    OUT.mkdir(exist_ok=True)
    rows = []
    for text_name, path in texts().items():
        for name, label in KINDS:
            out = subprocess.run([str(bench), "tokenizer", "--fixtures", str(ROOT / "fixtures/tokenizers"), "--names", name,
                                  "--text", str(path), "--json"], capture_output=True, text=True, check=True).stdout
            ours = json.loads(out.strip().splitlines()[-1])
            seconds, count, digest, batch = peer(name, path)
            mib = ours["bytes"] / MEGABYTE
            same = "yes" if (count == ours["tokens"] and digest == ours["ids_sha"]) else "**no**"
            rows.append(f"| {label} | {text_name} | {ours['tokens']} | {mib / ours['encode_seconds']:.1f} | "
                        f"{mib / ours['one_core_seconds']:.1f} | {mib / seconds:.1f} | {mib / batch:.1f} | "
                        f"**{seconds / ours['encode_seconds']:.1f}x** | {same} |")
            log(rows[-1])
    body = [
        f"`scripts/bench/bench_tokenizers.py`: 1 MiB of text encoded by the fixture tokenizers "
        f"(fixtures/tokenizers; vocabularies of 900-2500 tokens on the real pipelines), loft (`loft-bench tokenizer "
        f"--text`, best of 5 on 2 cores, best of 3 on one) against `tokenizers` {tokenizers.__version__} "
        f"(`Tokenizer.encode` of the whole text, best of 5; `encode_batch` of its lines for context), same text, "
        f"same run. MiB/s of input; ids of the one-call runs compared by hash. The small fixture vocabularies "
        f"mean many merges per word, which slows both sides against real vocabularies.",
        "",
        "| tokenizer | text | tokens | loft MiB/s | loft one core | tokenizers MiB/s | tokenizers encode_batch (lines) | speed-up (one call) | same ids |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
        *rows,
        "",
        f"Machine: {benchlib.machine(ROOT / '.build/release/loft')}. Run with {benchlib.load_note()}.",
    ]
    benchlib.write_section("tokenizers", "Tokenizers: 1 MiB encode against `tokenizers`", "\n".join(body))


if __name__ == "__main__":
    main()
