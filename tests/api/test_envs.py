"""The env catalog over HTTP."""

from __future__ import annotations

from envs import list_cards
from tests.api.conftest import Api


def test_catalog_lists_every_card_with_variables_and_metrics(api: Api) -> None:
    items = api.client.get("/api/envs").json()["items"]
    assert [item["env_id"] for item in items] == [card.env_id for card in list_cards()]
    hopper = api.client.get("/api/envs/Hopper-v5").json()
    assert hopper in items
    assert hopper["fitness_metrics"][0]["name"] == "forward_distance"
    assert any(var["name"] == "x_velocity" for var in hopper["state_vars"])


def test_unknown_env_is_404_naming_the_known_ones(api: Api) -> None:
    response = api.client.get("/api/envs/Hoppr-v5")
    assert response.status_code == 404
    assert "Hopper-v5" in response.json()["detail"]
