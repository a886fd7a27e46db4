"""The dashboard in a real headless Chromium: an expert logs in through the bot's link, sees
a question arrive in the live queue, and after closing it finds it in summaries and trends."""

from __future__ import annotations

import re
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import demo_desk
from bot.settings import Settings
from handoff.database import make_engine, migrate
from handoff.models import ConversationSummary, QuestionTrend
from handoff.summaries import Summariser, SummaryWriter
from handoff.trends import TrendWriter
from knowledge.base import load_knowledge
from tests.sandbox_client import DeskHarness
from tests.test_handoff_e2e import make_expert, queued_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None,
                       reason="Chromium is not installed (`make browser` installs it as root)"),
    pytest.mark.timeout(180),
]
KB = load_knowledge()


async def worker_until_summarised(redis: Redis, settings: Settings, anonymiser) -> None:
    """What `vraagbaak worker` does, in this process: summaries and trend rows into SQL."""
    engine = make_engine(settings.sqlalchemy_url)
    await migrate(engine)
    try:
        writer = SummaryWriter(engine, anonymiser, settings.secret(), ZoneInfo(settings.timezone),
                               lambda sid: [t.value for t in KB.snippets[sid].topics])
        summariser = Summariser(redis, writer, "browser-test")
        await summariser.ensure_group()
        trends = TrendWriter(redis, engine, "browser-test")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await trends.run_once()
            if await summariser.run_once(block_ms=200):
                await trends.run_once()
                return
        raise AssertionError("the summary job never arrived")
    finally:
        await engine.dispose()


async def test_expert_follows_a_question_from_queue_to_trends(
    settings: Settings, redis: Redis, anonymiser, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with demo_desk(settings, "127.0.0.1", 0, with_worker=False) as ready, \
            aiohttp.ClientSession() as http:
        harness = DeskHarness(ready.sandbox, ready.url, ready.desk, http, ready.settings,
                              ready.app)
        expert = await make_expert(harness, 3001, "Anna")
        await expert.send("/dashboard")
        link = re.search(r"(http://\S+)", (await expert.expect("dashboard/login"))["text"])
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"])
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844},
                                              locale="nl-NL")
                await page.goto(link.group(1))
                await page.get_by_role("button", name="Inloggen").click()
                await expect(page.get_by_role("heading", name="Wachtrij (live)")).to_be_visible()
                await expect(page.locator("#live")).to_contain_text("Niemand wacht")

                user = await queued_user(harness, 3003, "Een leerling deelt steeds "
                                                        "IS-filmpjes, hoe duid ik die signalen?")
                # No reload: the page's script refreshes the queue.
                waiting = page.locator("#waiting tbody tr")
                await expect(waiting).to_have_count(1, timeout=10_000)
                await expect(waiting.first).to_contain_text("Utrecht")
                await expect(waiting.first).to_contain_text("Vraagsteller")
                assert "IS-filmpjes" not in await page.content()
                await page.screenshot(path=str(tmp_path / "queue.png"))

                card = await expert.expect("Nieuwe vraag")
                await expert.press_label(card, "Oppakken")
                await expert.expect("📋")
                await user.expect("leest nu je vraag")
                await expect(page.locator("#experts")).to_contain_text("Vraagsteller",
                                                                       timeout=10_000)
                await expert.send("/sluit")
                outcome = await expert.expect("uitkomst")
                await expert.press_label(outcome, "Advies gegeven")
                await expert.expect_edit(outcome, "samenvatting")
                await expert.send("Docent geadviseerd over signalen en gesprek met ouders.")
                await expert.expect("Afgesloten")
                await worker_until_summarised(redis, ready.settings, anonymiser)

                await page.get_by_role("link", name="Samenvattingen").click()
                await expect(page.locator("article.summary")).to_contain_text(
                    "Docent geadviseerd over signalen")
                await page.get_by_label("Zoeken").fill("ouders")
                await page.get_by_role("button", name="Filteren").click()
                await expect(page.locator("article.summary")).to_have_count(1)

                await page.get_by_role("link", name="Trends").click()
                sectors = page.locator("#sectors table")
                await expect(sectors).to_contain_text("Onderwijs")
                await expect(sectors.locator("td").first).to_have_text("< 5")
                weekly = page.locator("#topics table")
                await expect(weekly).to_contain_text("< 5")
                await expect(page.locator("#sectors figure svg").first).to_be_visible()
                await page.screenshot(path=str(tmp_path / "trends.png"), full_page=True)
            finally:
                await browser.close()
    assert (tmp_path / "trends.png").stat().st_size > 10_000


async def fill_desk(ready, anna: int) -> None:
    """A desk in use: people waiting, a conversation held, two months of summaries and
    about twenty questions a week."""
    desk = ready.desk
    for i, (topic, sector, province, urgent) in enumerate([
            ("family", "jeugdhulp", "Gelderland", True), ("online", "onderwijs", "Utrecht", False),
            ("signals", "politie", "Noord-Brabant", False)]):
        await desk.handoff.open(7001 + i, "nl", topic, sector, province, urgent)
    held = await desk.handoff.open(7010, "en", "online", "ggz", "Zeeland", False)
    assert await desk.handoff.claim(held.id, anna, 3) == "ok"
    engine = make_engine(ready.settings.sqlalchemy_url)
    await migrate(engine)
    today = date.today()
    topics = ["family", "online", "signals", "polarisation"]
    try:
        async with AsyncSession(engine) as db:
            for i in range(40):
                db.add(ConversationSummary(
                    job_key=f"fill{i}", closed_on=today - timedelta(days=i), topic=topics[i % 4],
                    sector=("onderwijs", "jeugdhulp", "politie")[i % 3],
                    province=("Utrecht", "Gelderland", "Zuid-Holland")[i % 3],
                    outcome=("advice", "referred")[i % 2], lang=("nl", "en")[i % 5 == 0],
                    summary="Advice about signals at school." if i % 5 == 0 else
                    "Advies over signalen in de klas en een gesprek met de ouders.",
                    waiting_minutes=5 + i % 20, rating=3 + i % 3))
            for i in range(20 * 26):
                db.add(QuestionTrend(
                    row_key=f"q{i}", day=today - timedelta(days=i % 182), topic=topics[i % 4],
                    role=("professional", "volunteer")[i % 2], urgent=i % 9 == 0))
            await db.commit()
    finally:
        await engine.dispose()


# The element that reaches furthest right (what a failing phone check names).
WIDEST = """() => { let best = null, right = 0;
  for (const e of document.querySelectorAll("main *")) {
    const r = e.getBoundingClientRect().right;
    if (r > right) { right = r; best = e.tagName + "." + e.className + " " +
                     (e.textContent || "").trim().slice(0, 40); } }
  return [best, Math.round(right)]; }"""


async def test_every_dashboard_page_fits_a_phone(
    settings: Settings, redis: Redis, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    coordinator = 3005
    with_admin = settings.model_copy(update={"admin_ids": [coordinator]})
    async with demo_desk(with_admin, "127.0.0.1", 0, with_worker=False) as ready, \
            aiohttp.ClientSession() as http:
        harness = DeskHarness(ready.sandbox, ready.url, ready.desk, http, ready.settings,
                              ready.app)
        await make_expert(harness, 3001, "Anna")
        await fill_desk(ready, 3001)
        admin = harness.person(coordinator, "Coördinator", "nl")
        await admin.send("/dashboard")
        link = re.search(r"(http://\S+)", (await admin.expect("dashboard/login"))["text"])
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"])
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844},
                                              locale="nl-NL")
                await page.goto(link.group(1))
                await page.get_by_role("button", name="Inloggen").click()
                await expect(page.locator("#waiting tbody tr")).to_have_count(3)
                for path in ("queue", "summaries", "trends", "knowledge", "experts"):
                    await page.goto(f"{ready.url}/dashboard/{path}")
                    overflow = await page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth")
                    widest = await page.evaluate(WIDEST)
                    assert overflow <= 0, (path, overflow, widest)
                    await page.screenshot(path=str(tmp_path / f"{path}-390.png"), full_page=True)
                remove = page.get_by_role("link", name="Verwijderen Anna")
                box = await remove.bounding_box()
                assert box is not None and box["x"] + box["width"] <= 390
                await remove.click()
                await expect(page.get_by_role("heading", name="Anna uit de pool verwijderen?")
                             ).to_be_visible()
                await page.get_by_role("link", name="Annuleren").click()
                await expect(page.get_by_role("heading", name="Experts")).to_be_visible()
                assert await ready.desk.experts.is_expert(3001)
            finally:
                await browser.close()


# Every element that holds text of its own inside the trends' charts and tables.
TEXT_SIZES = """() => [...document.querySelectorAll(".trend *")]
  .filter(e => e.getClientRects().length > 0 && [...e.childNodes].some(
      n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => [e.tagName + "." + e.className, parseFloat(getComputedStyle(e).fontSize)])"""
CLIPPED = """() => [...document.querySelectorAll(".bar-label, table.heat tbody th")]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""


async def test_trends_read_at_a_desk_of_twenty_questions_a_week(
    settings: Settings, redis: Redis, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with demo_desk(settings, "127.0.0.1", 0, with_worker=False) as ready, \
            aiohttp.ClientSession() as http:
        harness = DeskHarness(ready.sandbox, ready.url, ready.desk, http, ready.settings,
                              ready.app)
        anna = await make_expert(harness, 3001, "Anna")
        await fill_desk(ready, 3001)
        await anna.send("/dashboard")
        link = re.search(r"(http://\S+)", (await anna.expect("dashboard/login"))["text"])
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"])
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 800},
                                                    locale="nl-NL")
                page = await context.new_page()
                await page.goto(link.group(1))
                await page.get_by_role("button", name="Inloggen").click()
                await expect(page.get_by_role("heading", name="Wachtrij (live)")).to_be_visible()
                for width in (1280, 390):
                    await page.set_viewport_size({"width": width, "height": 844})
                    await page.goto(f"{ready.url}/dashboard/trends")
                    sizes = await page.evaluate(TEXT_SIZES)
                    assert sizes and min(size for _e, size in sizes) >= 12, (
                        width, [s for s in sizes if s[1] < 12][:5])
                    assert await page.evaluate(CLIPPED) == [], width
                    # Labels in full, however long (the knowledge's own topic labels).
                    await expect(page.locator("#topics tbody th").filter(
                        has_text="Ouders en familie")).to_have_count(1)
                    # The newest period is the first column, in view without scrolling.
                    newest = page.locator("#topics thead th").nth(1)
                    box = await newest.bounding_box()
                    assert box is not None and box["x"] + box["width"] <= width, (width, box)
                    overflow = await page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, (width, overflow)
                    await page.screenshot(path=str(tmp_path / f"trends-{width}.png"),
                                          full_page=True)
                # About twenty questions a week over four topics: whole figures, not < 5.
                cells = await page.locator("#topics tbody td").all_inner_texts()
                numbers = [c for c in cells if c.isdigit() and int(c) >= 5]
                assert len(numbers) > len(cells) / 2, cells
                totals = await page.locator("#urgent tbody tr td:nth-of-type(1)"
                                            ).all_inner_texts()
                assert all(t.isdigit() and int(t) >= 5 for t in totals[1:]), totals
                caption = page.locator("#sectors figcaption")
                await expect(caption).to_contain_text("Hoogst: ")
            finally:
                await browser.close()
