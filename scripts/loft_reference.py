#!/usr/bin/env python3
"""An independent float64 reference of LoFT-AdamW (docs/loft.md) and of full AdamW, on the
factorization problem `loft experiment factorization --save-problem` writes.

The problem file (DIR/problem.safetensors) holds loft's exact float32 target T (m x n) and
initial factors A0 (r x n), B0 (m x r); the loss is mean((B A - T)^2). This script runs the
method as docs/loft.md states it, dense and in float64, with no rebalancing and no fallback:
the point is to see where exact-ish arithmetic takes the product, independently of loft's
tiled float32 implementation. `--rebalance` adds loft's rebalancing between steps
(docs/loft.md, "Keeping the pair balanced"), computed here by an SVD-free route of its own:
B = Qb Rb, Aᵀ = Qa Ra (QR), Rb Raᵀ = U Σ Vᵀ, B <- Qb U Σ^½, A <- Σ^½ Vᵀ Qaᵀ. `--float32` keeps factors and optimizer state in float32
(Gram matrices and solves in float64, as loft did before rebalancing) to show what float32
alone does to the trajectory.

Usage:
  scripts/loft_reference.py DIR/problem.safetensors --steps 50 --lr 0.1 --eps 1e-4 [--json]
Prints the final losses of loft and adamw-full (JSON with --json); a run whose Gram matrix
cannot be factored or whose loss is not finite reports "aborted".
"""

import argparse
import json
import struct
import sys

import numpy as np

RIDGE_B = 1e-6  # added to B^T B before solving (gradient scaling of A)
RIDGE_A = 1e-8  # added to A A^T (gradient scaling of B)


def load_problem(path):
    """target, a0, b0 as float32 arrays, read from a safetensors file with numpy only."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
    return out["target"], out["a0"], out["b0"]


class NotPositiveDefinite(Exception):
    pass


def spd_solver(gram, ridge):
    """Returns x -> (gram + ridge I)^-1 x through a Cholesky factorisation in float64."""
    s = np.asarray(gram, dtype=np.float64) + ridge * np.eye(gram.shape[0])
    try:
        low = np.linalg.cholesky(s)
    except np.linalg.LinAlgError as error:
        raise NotPositiveDefinite(str(error))

    def solve(x):
        y = np.linalg.solve(low, np.asarray(x, dtype=np.float64))
        return np.linalg.solve(low.T, y)

    return solve


def balanced(a, b):
    """The pair (B S, S⁻¹ A) with the same product and equal Gram matrices, through QR and
    the SVD of an r x r matrix (loft uses a Cholesky factor and an eigendecomposition)."""
    qb, rb = np.linalg.qr(b.astype(np.float64))
    qa, ra = np.linalg.qr(a.astype(np.float64).T)
    u, sigma, vt = np.linalg.svd(rb @ ra.T)
    if not np.all(np.isfinite(sigma)) or sigma[-1] <= 1e-12 * sigma[0]:
        return a, b  # rank-deficient: leave the pair alone, as loft does
    root = np.sqrt(sigma)
    return (root[:, None] * vt) @ qa.T, qb @ (u * root)


def loft(target, a0, b0, steps, lr, beta1, beta2, eps, dtype=np.float64, rebalance=False):
    """LoFT-AdamW (all blocks on, alternating updates, no clipping, no weight decay), and with
    `rebalance` the pair rebalanced after each step. Returns the losses before the first step
    and after each step."""
    cast = lambda x: np.asarray(x, dtype=dtype)
    t = np.asarray(target, dtype=np.float64)
    a, b = cast(a0), cast(b0)
    m, r = b.shape
    n = a.shape[1]
    mA, mB = cast(np.zeros((r, n))), cast(np.zeros((m, r)))
    pA, pB = cast(np.zeros((n, r, r))), cast(np.zeros((m, r, r)))  # PA[j], PB[i]
    basisA = basisB = None  # B at A's last step, A at B's last step
    stepA = stepB = 0
    size = m * n

    def loss():
        e = b.astype(np.float64) @ a.astype(np.float64) - t
        return float(np.mean(e * e))

    losses = [loss()]
    for k in range(steps):
        bd, ad = b.astype(np.float64), a.astype(np.float64)
        g = 2 * (bd @ ad - t) / size
        gA, gB = cast(bd.T @ g), cast(g @ ad.T)
        solveA = spd_solver(bd.T @ bd, RIDGE_B)  # SA = (B^T B + 1e-6 I)^-1
        solveB = spd_solver(ad @ ad.T, RIDGE_A)  # SB = (A A^T + 1e-8 I)^-1
        gtA = cast(solveA(gA))  # SA gA
        gtB = cast(solveB(gB.T).T)  # gB SB
        # Calibration into the current bases.
        if basisA is not None:
            rot = cast(solveA(bd.T @ basisA.astype(np.float64)))  # SA (B^T Bprev)
            mA = cast(rot @ mA)
            pA = cast(np.einsum("ab,jbc,dc->jad", rot, pA, rot))  # R P Rᵀ
        basisA = b.copy()
        if basisB is not None:
            rot = cast(solveB(ad @ basisB.astype(np.float64).T).T)  # (Aprev Aᵀ) SB
            mB = cast(mB @ rot)
            pB = cast(np.einsum("ba,ibc,cd->iad", rot, pB, rot))  # Rᵀ P R
        basisB = a.copy()
        # Moments (both factors, every step).
        stepA += 1
        stepB += 1
        mA = cast(beta1 * mA + (1 - beta1) * gtA)
        mB = cast(beta1 * mB + (1 - beta1) * gtB)
        pA = cast(beta2 * pA + (1 - beta2) * np.einsum("aj,bj->jab", gtA, gtA))
        pB = cast(beta2 * pB + (1 - beta2) * np.einsum("ia,ib->iab", gtB, gtB))
        # The moving factor: B on even steps, A on odd ones, projected with A_t, B_t.
        if k % 2 == 1:
            c1, c2 = 1 - beta1**stepA, 1 - beta2**stepA
            full_m = b @ mA
            v = np.maximum(np.einsum("ia,jab,ib->ij", b, pA, b), 0)
            u = full_m / (np.sqrt(v / c2) + eps)
            a = cast(a - (lr / c1) * cast(solveA(b.T @ u)))
        else:
            c1, c2 = 1 - beta1**stepB, 1 - beta2**stepB
            full_m = mB @ a
            v = np.maximum(np.einsum("ja,iab,jb->ij", a.T, pB, a.T), 0)
            u = full_m / (np.sqrt(v / c2) + eps)
            b = cast(b - (lr / c1) * cast(solveB(a @ u.T).T))
        if rebalance:
            # The moments stay in the old bases; the next calibration carries them over.
            a, b = (cast(x) for x in balanced(a, b))
        losses.append(loss())
        if not np.isfinite(losses[-1]):
            raise NotPositiveDefinite("loss is not finite")
    return losses


def adamw(target, a0, b0, steps, lr, beta1, beta2, eps):
    """Full AdamW (PyTorch convention) on W, started at W = B0 A0, in float64."""
    t = np.asarray(target, dtype=np.float64)
    w = b0.astype(np.float64) @ a0.astype(np.float64)
    m1, m2 = np.zeros_like(w), np.zeros_like(w)
    losses = []
    for k in range(1, steps + 1):
        e = w - t
        losses.append(float(np.mean(e * e)))
        g = 2 * e / e.size
        m1 = beta1 * m1 + (1 - beta1) * g
        m2 = beta2 * m2 + (1 - beta2) * g * g
        c1, c2 = 1 - beta1**k, 1 - beta2**k
        w = w - (lr / c1) * m1 / (np.sqrt(m2) / np.sqrt(c2) + eps)
    e = w - t
    losses.append(float(np.mean(e * e)))
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--eps", type=float, default=1e-4)
    parser.add_argument("--betas", default="0.9,0.999")
    parser.add_argument("--float32", action="store_true", help="factors and state in float32")
    parser.add_argument("--rebalance", action="store_true", help="rebalance the pair after each step")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    beta1, beta2 = (float(x) for x in args.betas.split(","))
    target, a0, b0 = load_problem(args.problem)
    dtype = np.float32 if args.float32 else np.float64
    result = {"adamw-full": adamw(target, a0, b0, args.steps, args.lr, beta1, beta2, args.eps)[-1]}
    try:
        result["loft"] = loft(target, a0, b0, args.steps, args.lr, beta1, beta2, args.eps, dtype,
                                args.rebalance)[-1]
    except NotPositiveDefinite as error:
        result["loft"] = None
        result["aborted"] = str(error)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:12} {value}")


if __name__ == "__main__":
    sys.exit(main())
