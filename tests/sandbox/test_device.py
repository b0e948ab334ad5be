"""The policy's device: "auto" follows the hardware, a named device must exist."""

from __future__ import annotations

import pytest
import torch

from sandbox.device import resolve_device


def test_auto_picks_cuda_only_when_torch_sees_a_gpu() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_unusable_devices_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu'; use auto, cpu or cuda"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="'cuda:64' was asked for"):
        resolve_device("cuda:64")
