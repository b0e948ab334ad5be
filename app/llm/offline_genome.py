"""The offline proposer's search space: a reward is a list of weighted terms.

The terms come from the env card: the fitness metric's per-step expression is
the progress term, the card's shaping terms are the others. A genome picks
terms and gives each a weight and a transform; an evolution strategy samples
diverse genomes first, then mutates the parent's (log-normal steps on weights
and temperatures, adding, dropping or re-shaping a term).
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, replace
from typing import Literal

import gymnasium
import numpy as np

from envs.card import EnvCard, FitnessMetric

Transform = Literal["linear", "tanh", "exp"]
"""linear: sign * w * x.  tanh: sign * w * tanh(x / T), bounded by w.
exp (penalties only): -w * (1 - exp(-|x| / T)), a penalty that saturates at w."""

PROGRESS = "progress"
MIN_WEIGHT, MAX_WEIGHT = 1e-3, 1e3
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-2, 1e2
_RESERVED = {"state", "action", "np", "math", "batch", "total", "components"}


@dataclass(frozen=True)
class Gene:
    """One reward component: ``name`` is its key in the components dict."""

    name: str
    expression: str  # per-step value over ``state`` and ``action``, shape (B,)
    sign: float  # +1 a bonus, -1 a penalty
    weight: float = 1.0
    transform: Transform = "linear"
    temperature: float = 1.0


Genome = tuple[Gene, ...]
"""The progress gene first, then the shaping genes."""


def progress_weight(card: EnvCard, metric: FitnessMetric) -> float:
    """The progress term's weight: for a metric summed over the episode, the one at
    which an episode that just succeeds earns about 1 per step, else 1.

    A per-step sum such as ``x_velocity * dt`` is small beside the card's shaping
    terms (at dt = 0.008 s, 2 m/s is 0.016 per step against a control cost near
    1), so unweighted it loses to them and the policy learns to keep still.
    """
    if metric.reduce != "sum" or not metric.success_threshold:
        return 1.0
    steps = episode_steps(card.env_id)
    if steps is None:
        return 1.0
    weight = steps / abs(metric.success_threshold)
    return _round_sig(_clip(weight, 1.0, MAX_WEIGHT)) if weight >= 2.0 else 1.0


def episode_steps(env_id: str) -> int | None:
    """The env's registered episode length (its TimeLimit), None when it has none."""
    try:
        return gymnasium.spec(env_id).max_episode_steps
    except gymnasium.error.Error:
        return None


def term_pool(card: EnvCard, metric: FitnessMetric) -> Genome:
    """Every term the card offers: progress first, at :func:`progress_weight`, the
    shaping terms at unit weight."""
    progress = Gene(
        PROGRESS,
        metric.expression,
        1.0 if metric.higher_is_better else -1.0,
        weight=progress_weight(card, metric),
    )
    genes = [progress]
    taken = {PROGRESS.upper()}
    for term in card.shaping_terms:
        name = _identifier(term.name, taken)
        taken.add(name.upper())
        genes.append(Gene(name, term.expression, -1.0 if term.sign < 0 else 1.0))
    return tuple(genes)


def env_reward_genome(card: EnvCard, pool: Genome) -> Genome | None:
    """The env's own reward in genome form: progress at its pool weight in place of
    the env's task term, plus each shaping term the env's reward has, at the env's
    weight (``ShapingTerm.env_weight``); None when the card gives no such weights.

    For a forward-distance metric on HalfCheetah, Hopper or Walker2d the progress
    weight is the env's own velocity weight, so this is the env's reward exactly;
    for a new behaviour it is the env's reward aimed at that behaviour.
    """
    by_name = dict(zip((gene.name for gene in pool[1:]), card.shaping_terms, strict=True))
    shaping = tuple(
        replace(gene, weight=weight)
        for gene in pool[1:]
        if (weight := by_name[gene.name].env_weight) is not None
    )
    return (pool[0], *shaping) if shaping else None


def canonical_genome(pool: Genome) -> Genome:
    """Progress at its pool weight plus every shaping term, linear, at weight 0.1."""
    return (pool[0], *(replace(gene, weight=0.1) for gene in pool[1:]))


def random_genome(pool: Genome, rng: np.random.Generator) -> Genome:
    """Progress (sometimes tanh-bounded, at most 1 per step) plus a random subset of
    shaping terms."""
    progress = pool[0]
    if rng.random() < 0.25:
        pace = 1.0 / progress.weight  # the per-step value at the success pace
        temperature = _round_sig(pace * _log_uniform(rng, 0.3, 3.0))
        progress = replace(progress, weight=1.0, transform="tanh", temperature=temperature)
    shaping = [_random_gene(gene, rng) for gene in pool[1:] if rng.random() < 0.5]
    return (progress, *shaping)


def mutate(parent: Genome, pool: Genome, rng: np.random.Generator, sigma: float = 0.5) -> Genome:
    """A child of ``parent``: log-normal steps on weights and temperatures, and
    with some probability one term added, dropped or re-shaped."""
    genes = [_perturb(gene, rng, sigma) for gene in parent]
    present = {gene.name for gene in genes}
    absent = [gene for gene in pool[1:] if gene.name not in present]
    roll = rng.random()
    if roll < 0.3 and absent:
        genes.append(_random_gene(absent[int(rng.integers(len(absent)))], rng))
    elif roll < 0.5 and len(genes) > 1:
        del genes[1 + int(rng.integers(len(genes) - 1))]
    elif roll < 0.7:
        index = int(rng.integers(len(genes)))
        genes[index] = _reshape(genes[index], rng)
    return tuple(genes)


def with_progress(genome: Genome, pool: Genome) -> Genome:
    """``genome`` with the progress term first, adding it if it is missing."""
    rest = tuple(gene for gene in genome if gene.name != PROGRESS)
    progress = next((gene for gene in genome if gene.name == PROGRESS), pool[0])
    return (progress, *rest)


def describe_changes(parent: Genome, child: Genome) -> list[str]:
    """Plain sentences for what differs between two genomes."""
    before = {gene.name: gene for gene in parent}
    after = {gene.name: gene for gene in child}
    changes = [f"added the term `{name}`" for name in after if name not in before]
    changes += [f"dropped the term `{name}`" for name in before if name not in after]
    for name, gene in after.items():
        old = before.get(name)
        if old is None:
            continue
        if old.transform != gene.transform:
            changes.append(f"made `{name}` {gene.transform} instead of {old.transform}")
        if old.weight != gene.weight:
            changes.append(f"changed `{name}`'s weight {old.weight:g} -> {gene.weight:g}")
        if gene.transform != "linear" and old.temperature != gene.temperature:
            changes.append(
                f"changed `{name}`'s temperature {old.temperature:g} -> {gene.temperature:g}"
            )
    return changes


def _round_sig(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits, as the rendered code writes it."""
    return float(f"{value:.{digits}g}")


def _random_gene(gene: Gene, rng: np.random.Generator) -> Gene:
    transforms = _transforms_for(gene)
    return replace(
        gene,
        weight=_log_uniform(rng, 0.01, 1.0),
        transform=transforms[int(rng.integers(len(transforms)))],
        temperature=_log_uniform(rng, 0.1, 10.0),
    )


def _perturb(gene: Gene, rng: np.random.Generator, sigma: float) -> Gene:
    weight = _clip(gene.weight * math.exp(sigma * rng.standard_normal()), MIN_WEIGHT, MAX_WEIGHT)
    temperature = gene.temperature
    if gene.transform != "linear" and rng.random() < 0.5:
        step = math.exp(sigma * rng.standard_normal())
        temperature = _clip(temperature * step, MIN_TEMPERATURE, MAX_TEMPERATURE)
    return replace(gene, weight=_round_sig(weight), temperature=_round_sig(temperature))


def _reshape(gene: Gene, rng: np.random.Generator) -> Gene:
    others = [t for t in _transforms_for(gene) if t != gene.transform]
    return replace(gene, transform=others[int(rng.integers(len(others)))])


def _transforms_for(gene: Gene) -> list[Transform]:
    """The saturating exp form only suits penalties: exp of a growing bonus overflows."""
    return ["linear", "tanh", "exp"] if gene.sign < 0 else ["linear", "tanh"]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return _round_sig(math.exp(rng.uniform(math.log(low), math.log(high))))


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _identifier(name: str, taken: set[str]) -> str:
    """A lowercase Python identifier for a component, unique among ``taken``."""
    base = re.sub(r"\W+", "_", name.strip().lower()).strip("_") or "term"
    if base[0].isdigit() or keyword.iskeyword(base) or base in _RESERVED:
        base = f"term_{base}"
    candidate, suffix = base, 2
    while candidate.upper() in taken:
        candidate, suffix = f"{base}_{suffix}", suffix + 1
    return candidate
