"""Training defaults: every card's tuned settings build a real SB3 algorithm, and
JSON policy kwargs map onto the torch objects SB3 expects."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

import envs
from envs.card import EnvCard
from envs.training import sb3_policy_kwargs


@pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")
@pytest.mark.parametrize("card", envs.list_cards(), ids=lambda card: card.env_id)
def test_training_defaults_build_the_sb3_algorithm(card: EnvCard) -> None:
    defaults = card.training
    venv = make_vec_env(card.env_id, n_envs=defaults.n_envs, env_kwargs=card.make_kwargs)
    if defaults.normalize_obs:
        venv = VecNormalize(venv, norm_reward=False)
    algorithm = {"PPO": PPO, "SAC": SAC}[defaults.algorithm]
    policy_kwargs = sb3_policy_kwargs(defaults.policy_kwargs)
    model = algorithm(
        "MlpPolicy", venv, **defaults.hyperparams, policy_kwargs=policy_kwargs, device="cpu"
    )
    for name, value in defaults.hyperparams.items():
        assert getattr(model, name) == value or callable(getattr(model, name)), name
    if "activation_fn" in policy_kwargs:
        assert model.policy.activation_fn is policy_kwargs["activation_fn"]
    assert model.n_envs == defaults.n_envs
    venv.close()


def test_policy_kwargs_map_activation_names() -> None:
    mapped = sb3_policy_kwargs(
        {"activation_fn": "relu", "net_arch": {"pi": [64, 64], "vf": [64]}, "ortho_init": False}
    )
    assert mapped == {
        "activation_fn": nn.ReLU,
        "net_arch": {"pi": [64, 64], "vf": [64]},
        "ortho_init": False,
    }
    assert sb3_policy_kwargs({"activation_fn": "nn.Tanh"})["activation_fn"] is nn.Tanh
    assert sb3_policy_kwargs({"activation_fn": "leaky_relu"})["activation_fn"] is nn.LeakyReLU


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation_fn": "sigmoidish"}, "unknown activation_fn 'sigmoidish'; known: "),
        ({"activation_fn": 3}, "must be a name"),
        ({"net_arch": [64, "wide"]}, "net_arch must be a list of positive layer sizes"),
        ({"net_arch": {"pi": [0]}}, r"net_arch\['pi'\] must be a list"),
    ],
)
def test_bad_policy_kwargs_say_what_is_wrong(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sb3_policy_kwargs(kwargs)
