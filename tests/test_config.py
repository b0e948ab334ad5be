"""Settings: values that would silently weaken the service are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


@pytest.mark.parametrize("value", [",", " , ", ",,,"])
def test_api_token_of_separators_only_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="only separators"):
        Settings(_env_file=None, api_token=value)  # type: ignore[call-arg]


@pytest.mark.parametrize(("value", "kept"), [("", None), ("  ", None), ("a,,b ", "a,,b ")])
def test_api_token_empty_means_unset_and_stray_commas_are_allowed(
    value: str, kept: str | None
) -> None:
    assert Settings(_env_file=None, api_token=value).api_token == kept  # type: ignore[call-arg]
