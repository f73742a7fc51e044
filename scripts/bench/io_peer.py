"""The Python peer of `loft inspect` / `loft convert` in the I/O benchmark: what a user of
safetensors + numpy writes for the same job.

  io_peer.py inspect IN            every tensor's name, dtype, shape (header only: safe_open)
  io_peer.py stats IN              per tensor min/max/mean/std over finite values, NaN/Inf/zero
                                   counts (one tensor at a time through safe_open)
  io_peer.py f16 IN OUT            load_file, astype(float16) per floating tensor, save_file
  io_peer.py to-npz IN OUT         load_file, np.savez (stored)
  io_peer.py from-npz IN OUT       np.load, every member, save_file
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def main(job, source, target=None):
    if job == "inspect":
        with safe_open(source, "np") as f:
            metadata = f.metadata()
            for key in f.keys():
                part = f.get_slice(key)
                print(key, part.get_dtype(), part.get_shape())
            print(metadata)
    elif job == "stats":
        with safe_open(source, "np") as f:
            for key in f.keys():
                values = f.get_tensor(key).astype(np.float64)
                finite = values[np.isfinite(values)]
                print(key, finite.min(), finite.max(), finite.mean(), finite.std(),
                      np.isnan(values).sum(), np.isinf(values).sum(), (values == 0).sum())
    elif job == "f16":
        with safe_open(source, "np") as f:
            metadata = f.metadata()
        tensors = load_file(source)
        save_file({k: v.astype(np.float16) if v.dtype.kind == "f" else v for k, v in tensors.items()}, target, metadata=metadata)
    elif job == "to-npz":
        np.savez(target, **load_file(source))
    elif job == "from-npz":
        with np.load(source) as archive:
            save_file({k: archive[k] for k in archive.files}, target)
    else:
        sys.exit(f"unknown job {job}")


if __name__ == "__main__":
    main(*sys.argv[1:])
