"""axe-core (from the npm registry, `make axe`) in Debian's Chromium: every dashboard page
and the chat page, at 1280 and 390 px wide, on a desk filled with data, has no critical,
serious or moderate violation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.runtime import demo_desk
from bot.settings import Settings
from knowledge.revisions import Kind
from knowledge.seed import read_seed
from tests.sandbox_client import DeskHarness
from tests.test_dashboard_browser import CHROMIUM, fill_desk
from tests.test_handoff_e2e import make_expert

AXE = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None,
                       reason="Chromium is not installed (`make browser` installs it as root)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (`make axe`)"),
    pytest.mark.timeout(240),
]
COUNTED = ("critical", "serious", "moderate")
WIDTHS = ({"width": 1280, "height": 800}, {"width": 390, "height": 844})
EXPERT, COORDINATOR = 3001, 3005


async def violations(page) -> list[str]:
    """What axe finds on the page as it is now, at the counted impacts, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']} {v['id']}: {v['help']} — "
            + json.dumps([n["target"] for n in v["nodes"]][:5], ensure_ascii=False)
            for v in result["violations"] if v["impact"] in COUNTED]


# Every control a pointer could use, as the same string for the list and for the focus.
CONTROLS = """() => {
  const key = e => [e.tagName, e.getAttribute("href"), e.getAttribute("name"),
                    e.getAttribute("aria-labelledby"), e.form ? e.form.getAttribute("action") : "",
                    e.textContent.trim().slice(0, 40)].join("|");
  const all = [...document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, [tabindex='0']")]
    .filter(e => !e.disabled && e.getClientRects().length > 0);
  return {all: all.map(key), focused: document.activeElement ? key(document.activeElement) : ""};
}"""


async def keyboard_misses(page) -> set[str]:
    """The controls that pressing Tab (only) never reaches."""
    wanted = set((await page.evaluate(CONTROLS))["all"])
    reached: set[str] = set()
    # Date fields take a Tab per part; the live queue may redraw meanwhile: room for both.
    for _ in range(4 * len(wanted) + 10):
        await page.keyboard.press("Tab")
        reached.add((await page.evaluate(CONTROLS))["focused"])
        if wanted <= reached:
            break
    return wanted - reached


async def audit(page) -> list[str]:
    """axe's violations, and any control the keyboard cannot reach."""
    found = await violations(page)
    misses = await keyboard_misses(page)
    return found + ([f"not reached with Tab: {sorted(misses)}"] if misses else [])


async def test_no_accessibility_violations_on_any_page_at_either_width(
    settings: Settings, redis: Redis,
) -> None:
    from playwright.async_api import async_playwright, expect

    with_admin = settings.model_copy(update={"admin_ids": [COORDINATOR]})
    async with demo_desk(with_admin, "127.0.0.1", 0, with_worker=False) as ready, \
            aiohttp.ClientSession() as http:
        harness = DeskHarness(ready.sandbox, ready.url, ready.desk, http, ready.settings,
                              ready.app)
        await make_expert(harness, EXPERT, "Anna")
        await fill_desk(ready, EXPERT)
        coordinator = harness.person(COORDINATOR, "Coördinator", "nl")
        # The knowledge editor's pages: a card, a new card, a referral, a draft, the gaps.
        sid = next(iter(ready.desk.kb.snippets))
        draft = await ready.desk.editorial.save(COORDINATOR, Kind.SNIPPET, sid,
                                                read_seed().cards[sid], 0)
        editor_pages = (f"knowledge/cards/{sid}", "knowledge/cards/new",
                        "knowledge/referrals/advieslijn_jep", f"knowledge/revisions/{draft.id}",
                        "gaps")
        found: dict[str, list[str]] = {}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"])
            try:
                for viewport in WIDTHS:
                    # The pages forbid inline scripts; axe is injected as one, so only this
                    # test's browser ignores the CSP (test_dashboard checks it is sent).
                    context = await browser.new_context(viewport=viewport, locale="nl-NL",
                                                        bypass_csp=True)
                    page = await context.new_page()

                    async def check(name: str, page=page, width=viewport["width"]) -> None:
                        found[f"{name} @{width}"] = await audit(page)

                    await page.goto(f"{ready.url}/")
                    await expect(page.locator(".pane")).to_have_count(3)
                    await check("chat")
                    await page.goto(f"{ready.url}/dashboard/how")
                    await check("how")
                    await coordinator.send("/dashboard")
                    message = await coordinator.expect("dashboard/login")
                    link = re.search(r"(http://\S+)", message["text"]).group(1)
                    await page.goto(link)
                    await check("login")
                    # A post without the form's binding gets the refusal page.
                    await page.evaluate("document.querySelector('input[name=form]').remove()")
                    await page.get_by_role("button", name="Inloggen").click()
                    await expect(page.get_by_role("heading", name="Inloggen geweigerd")
                                 ).to_be_visible()
                    await check("refused")
                    await page.goto(link)
                    await page.get_by_role("button", name="Inloggen").click()
                    await expect(page.locator("#waiting tbody tr")).to_have_count(3)
                    for path in ("queue", "summaries", "trends", "knowledge", "experts",
                                 f"experts/{EXPERT}/remove", *editor_pages):
                        await page.goto(f"{ready.url}/dashboard/{path}")
                        await check(path)
                    await context.close()
            finally:
                await browser.close()
    assert len(found) == 2 * 15
    problems = {page: lines for page, lines in found.items() if lines}
    assert not problems, "\n".join(f"{page}: {line}" for page, lines in problems.items()
                                   for line in lines)
