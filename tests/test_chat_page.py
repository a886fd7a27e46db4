"""The sandbox chat page in a real headless Chromium: a person chats and presses buttons."""

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
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(harness.base_url + "/")
            pane = page.locator("section.pane").first
            await pane.get_by_role("button", name="/start").click()
            await expect(pane.locator(".msg.bot").first).to_contain_text(
                "Welkom bij de Vraagbaak", timeout=15_000)
            await pane.get_by_role("button", name="Ik werk met jongeren (professional)").click()
            await expect(pane.locator(".msg.bot").last).to_contain_text("Typ je vraag",
                                                                        timeout=15_000)
            await pane.get_by_label("message").fill(
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
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(harness.base_url + "/")
            pane = page.locator("section.pane").nth(2)
            relayed = pane.locator(".msg.bot", has_text="alles gestuurd")
            await expect(relayed).to_be_visible(timeout=15_000)
            await relayed.get_by_role("button", name="reply").click()
            await expect(pane.locator(".replying")).to_contain_text("alles gestuurd")
            await pane.get_by_label("message").fill("Wat bedoelt hij met gestuurd?")
            await pane.get_by_role("button", name="Stuur").click()
            await expect(pane.locator(".msg.bot").last).to_contain_text("→ Vraagsteller",
                                                                        timeout=15_000)
        finally:
            await browser.close()
    await first.expect("Wat bedoelt hij met gestuurd?")
    assert not [m for m in await second.quiet(0.5) if "gestuurd" in m["text"]]
