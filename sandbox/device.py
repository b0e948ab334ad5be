"""Which torch device a sandbox puts the policy on.

Specs say ``"auto"`` (CUDA when this machine has a GPU torch can use, else the
CPU), or name a device torch knows (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
"""

from __future__ import annotations

import torch


def resolve_device(requested: str) -> str:
    """The concrete device for ``requested``; ValueError when it cannot be used here."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(
            f"unknown device {requested!r}; use auto, cpu or cuda (cuda:N for one GPU)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} was asked for, but torch sees no CUDA GPU here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {requested!r} was asked for, but only "
                f"{torch.cuda.device_count()} CUDA GPU(s) are visible"
            )
    return requested
