"""Turn a POST /runs body into a prepared run spec, checked against the catalog."""

from __future__ import annotations

from app.api.errors import invalid_field
from app.api.schemas.runs import RunCreate
from app.config import Settings
from app.llm.endpoints import ALLOWED_SETTING, endpoint_allowed
from app.run_options import RunSpec
from app.run_prepare import RunOptionError, prepare_run


def _check_llm(body: RunCreate, settings: Settings) -> None:
    base_url = body.llm.base_url
    if base_url is None or body.llm.offline:
        return
    # The worker makes the server POST to the run's endpoint (with the server's
    # key when it is the server's own endpoint): only endpoints the operator chose.
    if not endpoint_allowed(base_url, settings):
        raise invalid_field(
            ("body", "llm", "base_url"),
            f"the server does not send LLM requests to {base_url!r}; a run may use the "
            "server's REWARDFORGE_LLM_BASE_URL "
            f"({settings.llm_base_url or 'the provider default'}) or an endpoint listed in "
            f"{ALLOWED_SETTING} (set on the server)",
            base_url,
        )


def new_run_spec(body: RunCreate, *, settings: Settings) -> RunSpec:
    """The run to store, with the card's defaults filled in.

    Raises a 422 ``RequestValidationError`` naming the field for an unknown
    env or fitness metric, a budget over the per-run cap, a module path for a
    card (code the server would import), or an LLM endpoint that would
    receive the server's key.
    """
    if body.card_spec is not None:
        raise invalid_field(
            ("body", "card_spec"),
            "card modules are not loaded from API requests (the server would import and run "
            "them); install the card as a 'rewardforge.envs' entry point and use its env_id",
            body.card_spec,
        )
    _check_llm(body, settings)
    try:
        return prepare_run(RunSpec.model_validate(body.model_dump()))
    except RunOptionError as exc:
        raise invalid_field(("body", *exc.loc), exc.message, exc.value) from None
