"""Compile the batched simulator's kernels for one env: ``python -m sandbox.batched.warm
ENV_ID DEVICE``.

Warp compiles each kernel module on its first launch, into ``WARP_CACHE_PATH``
(tens of seconds for a MuJoCo model). The service runs this once per env and
device, outside any sandbox (it runs no candidate code), into a cache of its own;
each training sandbox then starts from a private copy of that cache instead of
compiling everything again.
"""

from __future__ import annotations

import sys

import numpy as np


def warm(env_id: str, device: str) -> None:
    """Build, reset and step a small batch: every kernel a training launches is loaded."""
    from sandbox.batched.vec_env import BatchedVecEnv

    venv = BatchedVecEnv(env_id, 2, device=device, seed=0)
    venv.reset()
    venv.step(np.zeros((2, *venv.action_space.shape), dtype=np.float32))
    venv.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m sandbox.batched.warm ENV_ID DEVICE", file=sys.stderr)
        return 2
    warm(args[0], args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
