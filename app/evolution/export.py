"""The best reward of a run as a standalone Python module."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import Candidate, Run
from app.evolution.training import reward_backend
from envs import get_card


def export_module(session: Session, run: Run) -> str:
    """Source text: a docstring naming the run, its env's state variables, and the code."""
    if not run.best_candidate_id:
        raise ValueError(f"run {run.id} has no trained candidate yet (status {run.status})")
    best = session.get(Candidate, run.best_candidate_id)
    if best is None or not best.code:
        raise ValueError(f"run {run.id}: best candidate {run.best_candidate_id} has no code")
    card = get_card(run.env_id, run.card_spec)
    variables = "\n".join(
        f"    state[{v.name!r}]: shape {_shape(v.shape)} {v.unit} - {v.description}"
        for v in card.state_vars
    )
    kind = "float32 torch tensor" if reward_backend(run) == "torch" else "numpy array"
    fitness = "n/a" if best.fitness is None else f"{best.fitness:.6g}"
    header = (
        f'"""Reward function for {run.env_id}: {run.task}\n\n'
        f"Evolved by rewardforge run {run.id}, candidate {best.id} "
        f"(iteration {best.iteration_index + 1}); trusted fitness "
        f"{run.fitness_metric} = {fitness}.\n\n"
        "compute_reward(state, action) is batched over B envs and returns "
        f"(total, components),\nwith every {kind} of shape (B,). The state dict holds:\n\n"
        f"{variables}\n"
        '"""\n\n'
    )
    footer = (
        "\n\nREWARD_INFO = "
        + repr(
            {
                "run_id": run.id,
                "candidate_id": best.id,
                "env_id": run.env_id,
                "task": run.task,
                "fitness_metric": run.fitness_metric,
                "fitness": best.fitness,
            }
        )
        + "\n"
    )
    return header + best.code.strip() + "\n" + footer


def _shape(shape: tuple[int, ...]) -> str:
    return "(B,)" if not shape else f"(B, {', '.join(map(str, shape))})"
