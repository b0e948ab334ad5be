"""The environment catalog: built-in cards, a user's own cards, one lookup.

A user's env joins without editing rewardforge, either by a module path
(``--env-card my_pkg.cards:make_card``) or by an entry point in the group
``rewardforge.envs`` whose object is a zero-argument factory returning an
EnvCard (or a list of them).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points

from envs.card import EnvCard, FitnessMetric, ShapingTerm, StateVar, TrainingDefaults

__all__ = [
    "EnvCard",
    "FitnessMetric",
    "ShapingTerm",
    "StateVar",
    "TrainingDefaults",
    "get_card",
    "list_cards",
    "load_card",
]

ENTRY_POINT_GROUP = "rewardforge.envs"


def _as_cards(obj: object, origin: str) -> list[EnvCard]:
    made = obj() if callable(obj) and not isinstance(obj, EnvCard) else obj
    given = list(made) if isinstance(made, list | tuple) else [made]
    cards: list[EnvCard] = []
    for card in given:
        if not isinstance(card, EnvCard):
            raise TypeError(f"{origin} gave {type(card).__name__}, expected an EnvCard")
        cards.append(card)
    return cards


def load_card(spec: str) -> EnvCard:
    """Load a user's card from ``"package.module:factory"`` (or ``:CARD``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"env card spec {spec!r} must look like 'package.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import env card module {module_name!r}: {exc}") from exc
    if not hasattr(module, attr):
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
    return _as_cards(getattr(module, attr), spec)[0]


@lru_cache
def _builtin_cards() -> dict[str, EnvCard]:
    from envs import classic_control, mujoco_arms, mujoco_locomotion

    cards: dict[str, EnvCard] = {}
    for module in (mujoco_locomotion, mujoco_arms, classic_control):
        for card in module.CARDS:
            cards[card.env_id] = card
    return cards


@lru_cache
def _plugin_cards() -> dict[str, EnvCard]:
    cards: dict[str, EnvCard] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        for card in _as_cards(ep.load(), f"entry point {ep.name!r}"):
            cards[card.env_id] = card
    return cards


def list_cards() -> list[EnvCard]:
    """Every card: built-ins first, then entry-point plugins (which may not shadow)."""
    merged = dict(_builtin_cards())
    for env_id, card in _plugin_cards().items():
        merged.setdefault(env_id, card)
    return list(merged.values())


def get_card(env_id: str, card_spec: str | None = None) -> EnvCard:
    """The card for ``env_id``; ``card_spec`` names a user's card module first."""
    if card_spec:
        card = load_card(card_spec)
        if card.env_id != env_id:
            raise ValueError(f"card {card_spec!r} describes {card.env_id}, not {env_id}")
        return card
    for card in list_cards():
        if card.env_id == env_id:
            return card
    known = ", ".join(sorted(c.env_id for c in list_cards()))
    raise KeyError(f"unknown env {env_id!r}; known: {known} (or pass --env-card pkg.mod:factory)")
