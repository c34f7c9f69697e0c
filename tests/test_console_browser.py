"""The console in a real browser (issue 12): headless Chromium (Debian's ``chromium``) driven by
Playwright through sign-in, the scorecard and its chart, a campaign launch refused with its
reasons and accepted once the gap is closed through the API, and sign-out.

Any console error or page error in the browser fails the test. Screenshots go to
``test-artifacts/console/`` (gitignored). Without chromium the test is skipped locally and
fails in CI (``CI=true``: ``.ci/run`` installs it). Run on SQLite only: the console reads no
database of its own, and tests/test_console.py covers both backends over HTTP.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.console_support import close_the_gap, draft_campaign
from tests.platform import Seeded, seeded_platform

CHROMIUM = os.environ.get("PENTAD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"
TIMEOUT_MS = 20_000


def _chromium_or_skip() -> None:
    if shutil.which(CHROMIUM) is None:
        why = f"chromium not found at {CHROMIUM} (Debian package `chromium`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: .ci/run installs it")
        pytest.skip(why)


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    if databases.backend != "sqlite":
        pytest.skip("the browser run is on SQLite; tests/test_console.py covers PostgreSQL")
    _chromium_or_skip()
    async with seeded_platform(databases, tmp_path_factory.mktemp("console-browser")) as seeded:
        yield seeded


@pytest.fixture
async def browser_page(plat: Seeded, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, list[str]]]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        try:
            yield page, errors
        finally:
            await page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
            await browser.close()


async def _shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_sign_in_scorecard_launch_and_sign_out_in_chromium(plat: Seeded, browser_page: Any) -> None:
    page, errors = browser_page
    campaign = await draft_campaign(plat, "Browser launch campaign")

    await page.goto(plat.url + "/console")
    assert page.url.endswith("/console/login")
    await page.get_by_label("API key").fill(plat.keys["staff"])
    await _shot(page, "01-sign-in")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(plat.url + "/console")

    chart = page.locator("#pillar-chart")
    await chart.wait_for(state="visible")
    box = await chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert await page.locator("#pillar-chart g.bar").count() == 6
    assert await page.get_by_role("heading", name="Scorecard", level=1).is_visible()
    assert await page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
    await _shot(page, "02-scorecard")

    await page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    launch = page.get_by_role("button", name=f"Launch {campaign['name']}")
    await launch.click()
    await page.wait_for_url("**/console/actions/act_*")
    reasons = page.locator("#action-reasons")
    await reasons.wait_for(state="visible")
    assert "accredited providers" in await reasons.inner_text()
    assert "failed" in await page.locator("#action-status").inner_text()
    await _shot(page, "03-launch-refused")

    await close_the_gap(plat)  # through the API, as staff would elsewhere
    await page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    await page.get_by_role("button", name=f"Launch {campaign['name']}").click()
    await page.wait_for_url("**/console/actions/act_*")
    status = page.locator("#action-status")
    await status.get_by_text("succeeded").wait_for()
    await _shot(page, "04-launch-accepted")
    await page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    assert await page.get_by_role("button", name=f"Launch {campaign['name']}").count() == 0  # active now

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await page.get_by_role("navigation").get_by_role("link", name="Scorecard").click()
    await page.locator("#pillar-chart").wait_for(state="visible")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the scorecard scrolls sideways on a phone ({width} px)"
    await _shot(page, "05-scorecard-phone")

    await page.set_viewport_size({"width": 1280, "height": 900})
    nav = page.get_by_role("navigation")
    for label in ("Segments", "Providers", "Capacity", "Enquiries", "Approvals", "Actions"):
        await nav.get_by_role("link", name=label).click()
        await page.wait_for_load_state()
        assert await nav.get_by_role("link", name=label).get_attribute("aria-current") == "page"
        assert await page.locator("h1").count() == 1, label
        await _shot(page, f"07-{label.lower()}")

    copied = [c for c in await page.context.cookies() if c["name"] == "pentad_console"]
    assert copied  # the session cookie, as something with access to the browser's profile could copy it
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/login*")
    await page.goto(plat.url + "/console/campaigns")
    assert "/console/login" in page.url
    await page.context.add_cookies(copied)  # the copy put back: the server ended that session
    await page.goto(plat.url + "/console/campaigns")
    assert "/console/login" in page.url
    await _shot(page, "06-signed-out")
    assert not errors, errors
