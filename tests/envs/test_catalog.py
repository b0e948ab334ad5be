"""Finding cards: built-ins, a user's card by module path or entry point, and the
messages a user sees when a spec or an env id is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import envs
from envs.extract import info_array
from tests.envs import example_cards

EXAMPLE = "tests.envs.example_cards:make_card"


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution whose ``rewardforge.envs`` entry point is make_cards."""
    dist = tmp_path / "rf_example_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rf-example-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rewardforge.envs]\nexample = tests.envs.example_cards:make_cards\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    envs._plugin_cards.cache_clear()
    yield
    envs._plugin_cards.cache_clear()


def test_user_card_loads_by_module_path() -> None:
    card = envs.load_card(EXAMPLE)
    assert card.env_id == "CartPole-v1"
    assert card.default_metric.name == "centred_steps"


def test_get_card_prefers_the_user_card_for_its_env() -> None:
    card = envs.get_card("CartPole-v1", EXAMPLE)
    assert card.default_metric.name == "centred_steps"
    assert envs.get_card("CartPole-v1").default_metric.name == "balanced_steps"


def test_entry_point_cards_join_the_catalog_without_shadowing(plugin_on_path: None) -> None:
    by_id = {card.env_id: card for card in envs.list_cards()}
    assert by_id["CartPole-v0"].default_metric.name == "centred_steps"
    assert by_id["CartPole-v1"].default_metric.name == "balanced_steps"
    assert envs.get_card("CartPole-v0").env_id == "CartPole-v0"


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("tests.envs.example_cards", ValueError, "must look like 'package.module:factory'"),
        ("tests.envs.no_such_module:make_card", ValueError, "cannot import env card module"),
        ("tests.envs.example_cards:no_such_factory", ValueError, "has no attribute"),
        ("math:pi", TypeError, "expected an EnvCard"),
    ],
)
def test_bad_card_specs_say_what_is_wrong(spec: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        envs.load_card(spec)


def test_card_spec_for_another_env_is_refused() -> None:
    with pytest.raises(ValueError, match="describes CartPole-v1, not Pendulum-v1"):
        envs.get_card("Pendulum-v1", EXAMPLE)


def test_unknown_env_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown env 'NoSuchEnv-v0'.*HalfCheetah-v5"):
        envs.get_card("NoSuchEnv-v0")


def test_extract_refuses_an_observation_of_the_wrong_shape() -> None:
    card = envs.get_card("HalfCheetah-v5")
    with pytest.raises(ValueError, match=r"shape \(B, 17\).*\(17,\)"):
        card.extract(np.zeros(17), [{}])


def test_extract_names_a_missing_step_info_field() -> None:
    card = envs.get_card("Hopper-v5")
    reset_info = {"x_position": 0.0, "z_distance_from_origin": 0.0}
    with pytest.raises(ValueError, match="no 'x_velocity'.*env.step"):
        card.extract(np.zeros((1, 11)), [reset_info])


def test_info_array_needs_one_info_per_env() -> None:
    with pytest.raises(ValueError, match="expected 2 info dicts"):
        info_array([{"x": 1.0}], "x", batch=2)


def test_state_is_a_private_copy_of_the_observation() -> None:
    obs = np.zeros((2, 4), dtype=np.float32)
    state = example_cards.extract(obs, [{}, {}])
    obs[:] = 1.0
    assert state["obs"].dtype == np.float64
    assert not state["obs"].any()
    assert not np.shares_memory(state["obs"], state["cart_position"])
