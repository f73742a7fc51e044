#!/usr/bin/env python3
"""LoFT's full-rank limit over many seeded problems: loft's CLI against the float64 reference.

At full rank (rank = target rank = m = n) LoFT's product B A must follow full AdamW on W.
For every size, seed, eps and learning rate this runs
`loft experiment factorization --m S --n S --rank S --target-rank S --save-problem --json`
(loft's LoFT and loft's float32 full AdamW on the same problem) and
scripts/loft_reference.py on the problem file loft wrote: float64 LoFT as the authors' method
stands (no rebalancing, no floor), float64 LoFT rebalanced after each step as loft does, and
float64 AdamW. Per cell (size, eps, lr) it reports, for each:
runs aborted (loft: non-zero exit; reference: a Gram matrix that cannot be factored or a
non-finite loss), runs whose final loss is more than 5% away from the same implementation's
AdamW, and the largest relative gap |L_loft / L_adamw - 1| over the runs that finished.
With --before BIN it also runs another loft build (e.g. the one before a change) on the same
problems; a build whose LoFT aborted ends the whole command, so for it the run is counted as
aborted only when LoFT itself was the method running (its text output says which), and the
runs an ablation aborted are counted apart ("n ablation"). Prints a markdown table.

Usage:
  scripts/loft-full-rank-sweep.py [--loft .build/release/loft] [--before OLD_BIN]
      [--seeds 50] [--sizes 8,13] [--steps 50] [--jobs 2]
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loft_reference as reference  # noqa: E402

EPS = (1e-8, 1e-4, 1e-2)
LRS = (0.01, 0.1)
OFF = 0.05  # a final loss more than 5% from AdamW's "leaves" it


def run_loft(binary, size, seed, eps, lr, steps, out, save_problem):
    command = [binary, "experiment", "factorization", "--m", str(size), "--n", str(size),
               "--rank", str(size), "--target-rank", str(size), "--steps", str(steps),
               "--lr", str(lr), "--eps", str(eps), "--seed", str(seed), "--out", out]
    if save_problem:
        command.append("--save-problem")
    done = subprocess.run(command + ["--json"], capture_output=True, text=True)
    if done.returncode != 0:
        # Which method was running? The text output prints "running METHOD..." before each.
        text = subprocess.run(command, capture_output=True, text=True).stdout
        running = text.rsplit("running ", 1)[-1].split("...", 1)[0] if "running " in text else "?"
        return {"aborted": running == "loft", "ablation_aborted": running != "loft",
                "error": done.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout)
    finals = result["final_losses"]
    return {"aborted": False, "loft": finals["loft"], "adamw": finals["adamw-full"],
            "events": result.get("optimizer_events", {}).get("loft", 0)}


def run_reference(problem, eps, lr, steps, rebalance):
    target, a0, b0 = reference.load_problem(problem)
    adamw = reference.adamw(target, a0, b0, steps, lr, 0.9, 0.999, eps)[-1]
    try:
        loft = reference.loft(target, a0, b0, steps, lr, 0.9, 0.999, eps, rebalance=rebalance)[-1]
    except reference.NotPositiveDefinite:
        return {"aborted": True}
    return {"aborted": False, "loft": loft, "adamw": adamw}


def one(job):
    args, size, seed, eps, lr, scratch = job
    out = os.path.join(scratch, f"{size}-{seed}-{eps}-{lr}")
    result = {"loft": run_loft(args.loft, size, seed, eps, lr, args.steps, out, True)}
    problem = os.path.join(out, "problem.safetensors")
    for column, rebalance in (("reference", False), ("balanced", True)):
        if os.path.exists(problem):
            result[column] = run_reference(problem, eps, lr, args.steps, rebalance)
        else:  # loft failed before writing the problem
            result[column] = {"aborted": True, "missing": True}
    if args.before:
        result["before"] = run_loft(args.before, size, seed, eps, lr, args.steps, out + "-before", False)
    return (size, eps, lr, seed), result


def summarize(results):
    aborted = sum(r["aborted"] for r in results)
    gaps = [abs(r["loft"] / r["adamw"] - 1) for r in results if "loft" in r]
    off = sum(g > OFF for g in gaps)
    worst = max(gaps) if gaps else float("nan")
    events = sum(r.get("events", 0) for r in results if not r["aborted"])
    return aborted, off, worst, events


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loft", default=".build/release/loft")
    parser.add_argument("--before", help="another loft binary to run on the same problems")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--sizes", default="8,13")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="also write every run's result to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="loft-sweep-") as scratch:
        jobs = [(args, size, seed, eps, lr, scratch)
                for size in sizes for seed in range(args.seeds) for eps in EPS for lr in LRS]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            runs = dict(pool.map(one, jobs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"size": k[0], "eps": k[1], "lr": k[2], "seed": k[3], **v} for k, v in runs.items()], f)

    columns = ["loft"] + (["before"] if args.before else []) + ["reference", "balanced"]
    names = {"loft": "loft", "before": "loft before", "reference": "float64 reference",
             "balanced": "float64 reference, rebalanced"}
    print(f"Full rank, {args.seeds} seeds per cell, {args.steps} steps, betas (0.9, 0.999). "
          f"aborted / final loss > {OFF:.0%} from AdamW / max |L / L_AdamW - 1|"
          + " / optimizer events (loft builds). A run of an old build that an ablation aborted"
          " has no LoFT result: (+n ablation).")
    print()
    head = "| m = n = r | eps | lr | " + " | ".join(names[c] for c in columns) + " |"
    print(head)
    print("|" + "---:|" * (3 + len(columns)))
    totals = {c: [0, 0, 0.0, 0] for c in columns}
    for size in sizes:
        for eps in EPS:
            for lr in LRS:
                cells = []
                for c in columns:
                    results = [runs[(size, eps, lr, seed)][c] for seed in range(args.seeds)]
                    aborted, off, worst, events = summarize(results)
                    t = totals[c]
                    t[0] += aborted
                    t[1] += off
                    t[2] = max(t[2], worst) if worst == worst else t[2]
                    t[3] += events
                    text = f"{aborted} / {off} / {worst:.1e}"
                    if c in ("loft", "before"):
                        text += f" / {events}"
                    ablation = sum(r.get("ablation_aborted", False) for r in results)
                    if ablation:
                        text += f" (+{ablation} ablation)"
                        t.append(ablation)
                    cells.append(text)
                print(f"| {size} | {eps:g} | {lr:g} | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        aborted, off, worst, events = totals[c][:4]
        text = f"{aborted} / {off} / {worst:.1e}" + (f" / {events}" if c in ("loft", "before") else "")
        if len(totals[c]) > 4:
            text += f" (+{sum(totals[c][4:])} ablation)"
        cells.append(f"**{text}**")
    count = len(sizes) * args.seeds * len(EPS) * len(LRS)
    print(f"| all | | ({count} runs) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
