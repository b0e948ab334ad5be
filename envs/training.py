"""Turn a card's JSON-able policy kwargs into the objects Stable-Baselines3 expects.

Cards and job specs travel as JSON, so they name the activation function
(``"relu"``) instead of holding ``torch.nn.ReLU``; the training worker and the
evaluator both call :func:`sb3_policy_kwargs` before building the policy, so the
two always build the same network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leakyrelu": nn.LeakyReLU,
}


def _activation(name: object) -> type[nn.Module]:
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name
    if not isinstance(name, str):
        raise ValueError(f"activation_fn must be a name such as 'relu', got {name!r}")
    # Accept the zoo's spelling too: "nn.ReLU", "torch.nn.LeakyReLU", "leaky_relu".
    key = name.rsplit(".", 1)[-1].replace("_", "").lower()
    if key not in ACTIVATIONS:
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation_fn {name!r}; known: {known}")
    return ACTIVATIONS[key]


def _layer_sizes(sizes: object, where: str) -> list[int]:
    if isinstance(sizes, list | tuple) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes
    ):
        return [int(n) for n in sizes]
    raise ValueError(f"{where} must be a list of positive layer sizes, got {sizes!r}")


def _net_arch(arch: object) -> list[int] | dict[str, list[int]]:
    if isinstance(arch, Mapping):
        return {str(k): _layer_sizes(v, f"net_arch[{k!r}]") for k, v in arch.items()}
    return _layer_sizes(arch, "net_arch")


def sb3_policy_kwargs(policy_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` from their JSON form.

    ``activation_fn`` may be a name (``"relu"``, ``"tanh"``, ``"nn.ReLU"``) and
    becomes the torch module class; ``net_arch`` (a list of layer sizes, or a
    dict such as ``{"pi": [256, 256], "vf": [256, 256]}``) is checked and copied;
    every other key passes through unchanged. Raises ValueError on a bad value.
    """
    mapped = dict(policy_kwargs)
    if "activation_fn" in mapped:
        mapped["activation_fn"] = _activation(mapped["activation_fn"])
    if "net_arch" in mapped:
        mapped["net_arch"] = _net_arch(mapped["net_arch"])
    return mapped
