"""The proposer that needs no model and no network: the default when no LLM is
configured.

It writes real reward code from the env card (see ``offline_genome``): the
first iteration starts from the env's own reward aimed at the metric (where the
card gives its weights) and the canonical genome, then samples diverse genomes;
later iterations mutate the genome read from the parent's code. Every sample
draws from its own generator seeded by (seed, iteration, sample), so a run is
reproducible sample by sample.
"""

from __future__ import annotations

import numpy as np

from app.llm.extract import code_hash
from app.llm.offline_code import parse_genome, render_code
from app.llm.offline_genome import (
    Gene,
    Genome,
    canonical_genome,
    describe_changes,
    env_reward_genome,
    mutate,
    random_genome,
    term_pool,
    with_progress,
)
from app.llm.proposer import LLMResponse
from envs.card import EnvCard, FitnessMetric
from sandbox.spec import RewardBackend

_ATTEMPTS = 8  # draws per sample before a duplicate of a sibling is accepted


class OfflineProposer:
    """A Proposer that evolves weighted sums of the card's terms."""

    def __init__(
        self, *, card: EnvCard, metric: FitnessMetric, backend: RewardBackend = "numpy"
    ) -> None:
        if not card.state_vars:
            raise ValueError(f"the card of {card.env_id} lists no state variables")
        self.card = card
        self.metric = metric
        self.backend = backend
        self.pool = term_pool(card, metric)
        # The first iteration's fixed starting points, then random draws.
        self.seeds = [
            genome
            for genome in (env_reward_genome(card, self.pool), canonical_genome(self.pool))
            if genome is not None
        ]

    def propose(
        self,
        *,
        messages: list[dict[str, str]],
        n: int,
        iteration: int,
        seed: int,
        parent_code: str | None = None,
    ) -> list[LLMResponse]:
        """``n`` responses in the LLM's format: a sentence, then a python block.

        ``messages`` is unused: the genome is read from ``parent_code``.
        """
        parent = parse_genome(parent_code) if parent_code else None
        if parent is not None:
            parent = with_progress(parent, self.pool)
        seen: set[str] = set()
        responses = []
        for sample in range(n):
            rng = np.random.default_rng([seed % 2**32, iteration, sample])
            for _ in range(_ATTEMPTS):
                genome = self._draw(rng, parent, sample)
                code = render_code(genome, self.card.state_vars[0].name, self.backend)
                if code_hash(code) not in seen:
                    break
            seen.add(code_hash(code))
            prose = self._prose(genome, parent, unreadable_parent=bool(parent_code) and not parent)
            responses.append(LLMResponse(text=f"{prose}\n\n```python\n{code}```\n"))
        return responses

    def _draw(self, rng: np.random.Generator, parent: Genome | None, sample: int) -> Genome:
        if parent is not None:
            return mutate(parent, self.pool, rng)
        if sample < len(self.seeds):
            return self.seeds[sample]
        return random_genome(self.pool, rng)

    def _prose(self, genome: Genome, parent: Genome | None, *, unreadable_parent: bool) -> str:
        if parent is not None:
            changes = describe_changes(parent, genome) or ["kept the parent's terms and weights"]
            return "Starting from the parent reward, I " + "; ".join(changes) + "."
        terms = ", ".join(_describe(gene) for gene in genome[1:]) or "no shaping terms"
        opening = (
            "The parent reward is not in a form I can mutate, so I start afresh. "
            if unreadable_parent
            else "I start from the env's own reward, with progress as its task term. "
            if len(self.seeds) > 1 and genome == self.seeds[0]
            else ""
        )
        return (
            f"{opening}This reward pays for progress on `{self.metric.name}` "
            f"({self.metric.description.strip().rstrip('.')}) and adds {terms}."
        )


def _describe(gene: Gene) -> str:
    kind = "bonus" if gene.sign > 0 else "penalty"
    shape = "" if gene.transform == "linear" else f", {gene.transform}-bounded"
    return f"`{gene.name}` ({kind}{shape}, weight {gene.weight:g})"
