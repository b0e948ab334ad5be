"""The new run form: the env card, errors next to their fields, the token."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.conftest import ENV_ID, TOKEN, Served


def _runs_total(served: Served) -> int:
    return served.api.get("/api/runs").raise_for_status().json()["total"]


def test_choosing_an_env_shows_its_card_and_metrics(page: Page) -> None:
    page.goto("/runs/new")
    card = page.locator(f"#card-preview [data-env='{ENV_ID}']")
    expect(card).to_be_hidden()
    page.get_by_label("Environment").select_option(ENV_ID)
    expect(card).to_be_visible()
    expect(card).to_contain_text("mean_uprightness")
    card.get_by_text("State variables the reward can read").click()
    expect(card.locator("table code").first).to_be_visible()
    metric = page.get_by_label("Fitness metric (what selects the best reward)")
    expect(metric.locator("option").first).to_have_attribute("value", "mean_uprightness")


def test_bad_submission_shows_each_error_next_to_its_field(page: Page, served: Served) -> None:
    before = _runs_total(served)
    page.goto("/runs/new")
    page.evaluate("token => localStorage.setItem('rewardforge.apiToken', token)", TOKEN)
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill("   ")
    page.get_by_label("Timesteps per candidate").fill("5")
    page.get_by_label("Iterations").fill("500")
    page.get_by_role("button", name="Start run").click()

    task_error = page.locator("#error-task")
    expect(task_error).to_be_visible()
    expect(task_error).to_contain_text("must not be empty")
    expect(page.locator("#error-timesteps")).to_contain_text("greater than or equal to 1000")
    expect(page.locator("#error-iterations")).to_contain_text("less than or equal to 50")
    expect(page.get_by_label("What should the agent do?")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Timesteps per candidate")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-samples")).to_be_hidden()
    summary = page.locator("#form-errors")
    expect(summary).to_contain_text("3 things need fixing")
    assert page.url.endswith("/runs/new")
    assert _runs_total(served) == before

    page.get_by_label("Timesteps per candidate").fill("2000")
    expect(page.locator("#error-timesteps")).to_be_hidden()


def test_unknown_fitness_metric_error_is_shown_at_the_metric(page: Page, served: Served) -> None:
    page.goto("/runs/new")
    page.evaluate("token => localStorage.setItem('rewardforge.apiToken', token)", TOKEN)
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill("swing up")
    # A metric of another env, as a stale form would send it.
    page.locator("#f-fitness").evaluate(
        "select => { select.add(new Option('forward_distance', 'forward_distance'));"
        " select.value = 'forward_distance'; }"
    )
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#error-fitness")).to_contain_text(
        "has no fitness metric 'forward_distance'"
    )


def test_missing_token_is_explained_without_creating_a_run(page: Page, served: Served) -> None:
    before = _runs_total(served)
    page.goto("/runs/new")
    expect(page.locator("#token-state")).to_have_text("API token: needed")
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill("swing up and balance")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#form-errors")).to_contain_text("this route needs a bearer token")
    assert _runs_total(served) == before

    page.locator("#token-state").click()
    page.get_by_label("API token", exact=True).fill("not-the-token")
    page.get_by_role("button", name="Save token").click()
    expect(page.locator("#token-state")).to_have_text("API token: saved")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#form-errors")).to_contain_text(
        "bearer token is not one the server accepts"
    )
    assert _runs_total(served) == before


def test_advanced_options_choose_the_device_and_torch_rewards(page: Page, served: Served) -> None:
    page.goto("/runs/new")
    page.evaluate("token => localStorage.setItem('rewardforge.apiToken', token)", TOKEN)
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill("swing up, with torch rewards")
    page.get_by_text("Advanced").click()
    page.get_by_label("Device").select_option("cpu")
    page.get_by_label("Reward code computes with").select_option("torch")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/(?!new$)[^/]+$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(".run-head .sub")).to_contain_text(
        "reward code: torch · device cpu · simulator mujoco"
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    served.api.post(f"/api/runs/{run_id}/cancel", headers=headers).raise_for_status()
    options = served.api.get(f"/api/runs/{run_id}").raise_for_status().json()["options"]
    assert options["device"] == "cpu" and options["reward_backend"] == "torch"
    assert options["simulator"] == "mujoco"


def test_a_screening_threshold_from_the_form_is_stored_and_checked(
    page: Page, served: Served
) -> None:
    page.goto("/runs/new")
    page.evaluate("token => localStorage.setItem('rewardforge.apiToken', token)", TOKEN)
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill("swing up, screened")
    page.get_by_text("Advanced").click()
    threshold = page.get_by_label("Screening threshold")
    threshold.fill("1.5")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#error-options-screen_min_correlation")).to_contain_text(
        "less than or equal to 1"
    )
    threshold.fill("0.25")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/(?!new$)[^/]+$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    served.api.post(f"/api/runs/{run_id}/cancel", headers=headers).raise_for_status()
    options = served.api.get(f"/api/runs/{run_id}").raise_for_status().json()["options"]
    assert options["screen_min_correlation"] == 0.25 and options["screening"] is True
