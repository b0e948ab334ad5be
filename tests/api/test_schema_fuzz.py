"""Fuzz every operation from the API's own OpenAPI schema: no input gets a 5xx.

Each operation gets valid and invalid inputs (schemathesis' positive and
negative modes); requests on routes with a run or candidate id are also made
with the ids of a seeded run, so they reach real rows, not only 404s. It runs
on SQLite and on Postgres, whose types are stricter (it found a 32-bit id overflow).
Schemathesis' pytest loader (``from_fixture``) does not work with pytest 9, so each
operation is a parametrized test driving the operation's Hypothesis strategies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from app.db.repository import set_run_status
from app.server import create_app
from tests.api.conftest import AUTH, Api, make_settings, open_api
from tests.api.seed import finished_iteration, queued_run

EXAMPLES_PER_OPERATION = 25


def _operations() -> list[tuple[str, str]]:
    # The schema does not depend on the database; an engine that never connects will do.
    app = create_app(make_settings("sqlite://", Path("unused")))
    paths = app.openapi()["paths"]
    app.state.engine.dispose()
    return [(method.upper(), path) for path, item in paths.items() for method in item]


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, dict[str, str]]]:
    """The app with a token configured, and the ids of a finished run and its candidate."""
    # Schemathesis' ASGI client calls the server "testserver".
    settings_ = make_settings(db_url, tmp_path / "data", allowed_hosts="testserver")
    for api in open_api(settings_):
        with api.session_factory.begin() as session:
            run = queued_run(session)
            best = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)[
                -1
            ]
            # Finished, so its event stream ends and no request can queue it again.
            set_run_status(session, run_id=run.id, status="succeeded")
            ids = {"run_id": run.id, "candidate_id": best.id}
        yield api, ids


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_input_gets_a_server_error(
    seeded: tuple[Api, dict[str, str]], method: str, path: str
) -> None:
    api, ids = seeded
    operation = schemathesis.openapi.from_asgi("/api/openapi.json", api.app)[path][method]
    known = {name: value for name, value in ids.items() if "{" + name + "}" in path}
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if known:
        strategies = [
            operation.as_strategy(mode, path_parameters=known) for mode in GenerationMode
        ] + strategies

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

    check()
