"""The sandbox chat page in a real headless Chromium: a person chats and presses buttons, on a
wide screen (everyone side by side) and on a phone (one at a time, with tabs), in the
browser's language."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.sandbox_client import DeskHarness

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (`make install` installs it as root)")


async def test_person_chats_and_presses_buttons_in_the_browser(
    harness: DeskHarness, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900},
                                          locale="nl-NL")
            await page.goto(harness.base_url + "/")
            pane = page.locator("section.pane").first
            await pane.get_by_role("button", name="/start").click()
            await expect(pane.locator(".msg.bot").first).to_contain_text(
                "Welkom bij de Vraagbaak", timeout=15_000)
            await pane.get_by_role("button", name="Ik werk met jongeren (professional)").click()
            await expect(pane.locator(".msg.bot").last).to_contain_text("Typ je vraag",
                                                                        timeout=15_000)
            await pane.get_by_label("Bericht", exact=True).fill(
                "Mag ik mijn zorgen over een leerling delen met de wijkagent?")
            await pane.get_by_role("button", name="Stuur").click()
            answer = pane.locator(".msg.bot").last
            await expect(answer).to_contain_text("Onderwerp:", timeout=15_000)
            await expect(answer.get_by_role("button", name="Spreek een expert")).to_be_visible()
            await page.screenshot(path=str(tmp_path / "chat.png"))
            await pane.get_by_label("bot geblokkeerd").check()
            for _ in range(500):  # the page posts the block; wait until the sandbox has it
                if harness.sandbox.users[1001].blocked:
                    break
                await asyncio.sleep(0.02)
        finally:
            await browser.close()
    assert (tmp_path / "chat.png").stat().st_size > 10_000
    assert harness.sandbox.users[1001].blocked
    profile = await harness.desk.users.get(1001)
    assert profile.role is not None and profile.role.value == "professional"


async def test_expert_replies_to_one_asker_with_the_reply_arrow(harness: DeskHarness) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.test_handoff_e2e import make_expert, queued_user

    # Marieke (the page's expert pane, id 1003) holds two conversations.
    marieke = await make_expert(harness, 1003, "Marieke")
    first = await queued_user(harness, 1101, "hoe praat ik met een jongen over complotten")
    await marieke.press_label(await marieke.expect("Nieuwe vraag"), "Oppakken")
    await marieke.expect("📋")
    second = await queued_user(harness, 1102, "mag ik zorgen delen met de wijkagent")
    await marieke.press_label(await marieke.expect("Nieuwe vraag"), "Oppakken")
    await marieke.expect("📋")
    await first.send("Hij zegt dat alles gestuurd wordt.")
    await marieke.expect("alles gestuurd")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900},
                                          locale="nl-NL")
            await page.goto(harness.base_url + "/")
            pane = page.locator("section.pane").nth(2)
            relayed = pane.locator(".msg.bot", has_text="alles gestuurd")
            await expect(relayed).to_be_visible(timeout=15_000)
            await relayed.get_by_role("button", name="Beantwoorden").click()
            await expect(pane.locator(".replying")).to_contain_text("alles gestuurd")
            await pane.get_by_label("Bericht", exact=True).fill("Wat bedoelt hij met gestuurd?")
            await pane.get_by_role("button", name="Stuur").click()
            await expect(pane.locator(".msg.bot").last).to_contain_text("→ Vraagsteller",
                                                                        timeout=15_000)
        finally:
            await browser.close()
    await first.expect("Wat bedoelt hij met gestuurd?")
    assert not [m for m in await second.quiet(0.5) if "gestuurd" in m["text"]]


async def test_page_speaks_the_language_the_browser_asks_for(harness: DeskHarness) -> None:
    for asked, lang, send in (("", "nl", "Stuur"), ("de-DE,de;q=0.9,en;q=0.8", "en", "Send"),
                              ("nl-BE,en;q=0.5", "nl", "Stuur")):
        async with harness.session.get(harness.base_url + "/",
                                       headers={"Accept-Language": asked}) as resp:
            page = await resp.text()
        assert f'<html lang="{lang}">' in page and resp.headers["Content-Language"] == lang
        assert f'<button type="submit">{send}</button>' in page and "{{" not in page


PANE_STATE = """() => [...document.querySelectorAll("section.pane")].map(p => ({
  shown: p.getClientRects().length > 0, log: p.querySelector(".log").clientHeight}))"""


async def test_a_phone_shows_one_person_at_a_time_with_tabs(
    harness: DeskHarness, tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844},
                                          locale="nl-NL")
            await page.goto(harness.base_url + "/")
            tabs = page.get_by_role("tab")
            await expect(tabs).to_have_text(["Professional · Sanne", "Vrijwilliger · Youssef",
                                             "Expert · Marieke"])
            await expect(tabs.first).to_have_attribute("aria-selected", "true")
            state = await page.evaluate(PANE_STATE)
            assert [p["shown"] for p in state] == [True, False, False]
            assert state[0]["log"] >= 300, state  # was 40 px with three panes stacked
            pane = page.get_by_role("tabpanel", name="Professional · Sanne")
            for role, name in (("spinbutton", "id"), ("textbox", "naam"), ("combobox", "taal"),
                               ("textbox", "Bericht")):
                await expect(pane.get_by_role(role, name=name, exact=True)).to_be_visible()
            await pane.get_by_role("button", name="/start").click()
            welcome = pane.locator(".msg.bot").first
            await expect(welcome).to_contain_text("Welkom bij de Vraagbaak", timeout=15_000)
            await expect(welcome).to_be_in_viewport()
            await page.screenshot(path=str(tmp_path / "chat-390.png"))
            # A tab, or the arrow keys from a tab, bring the next person forward.
            await page.get_by_role("tab", name="Expert · Marieke").click()
            assert [p["shown"] for p in await page.evaluate(PANE_STATE)] == [False, False, True]
            await page.keyboard.press("ArrowRight")
            await expect(tabs.first).to_be_focused()
            await expect(tabs.first).to_have_attribute("aria-selected", "true")
            await expect(welcome).to_be_visible()
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
            # Wide, everyone is side by side and the tabs step aside.
            await page.set_viewport_size({"width": 1280, "height": 800})
            assert [p["shown"] for p in await page.evaluate(PANE_STATE)] == [True] * 3
            await expect(tabs.first).to_be_hidden()
            await page.screenshot(path=str(tmp_path / "chat-1280.png"))
        finally:
            await browser.close()


async def test_an_english_browser_gets_an_english_page_and_bot(harness: DeskHarness) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844},
                                          locale="en-GB")
            await page.goto(harness.base_url + "/")
            assert await page.get_attribute("html", "lang") == "en"
            pane = page.get_by_role("tabpanel", name="Volunteer · Youssef")
            await page.get_by_role("tab", name="Volunteer · Youssef").click()
            await expect(pane.get_by_role("combobox", name="language")).to_have_value("en")
            await pane.get_by_role("button", name="/start").click()
            await expect(pane.locator(".msg.bot").first).to_contain_text(
                "Welcome to Vraagbaak", timeout=15_000)
            await expect(pane.get_by_role("button", name="Send")).to_be_visible()
        finally:
            await browser.close()
