"""Coordinators keep the knowledge: drafts, checks, publication that reaches askers without a
restart, restore, conflicts, who may do what, and the YAML export and import."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.runtime import demo_desk
from bot.web.card_form import card_fields
from handoff.database import migrate
from handoff.models import KnowledgeRevision
from knowledge.base import load_knowledge
from knowledge.editorial import Invalid, Refused
from knowledge.revisions import Conflict, Kind, body_of
from knowledge.seed import export, read_seed
from tests.sandbox_client import DeskHarness
from tests.test_dashboard_browser import CHROMIUM
from tests.web_harness import ADMIN, EXPERT, Web

# A publication retrains the triage (about a minute for 620 cards on an idle core, far more on
# a machine `make test` keeps busy); some tests wait for two.
pytestmark = pytest.mark.timeout(600)
QUESTION = ("Mag ik mijn zorgen over een leerling delen met de wijkagent, of geldt mijn "
            "beroepsgeheim?")


def edited(card: dict, title: str) -> dict:
    """The card with a new Dutch title."""
    return {**card, "nl": {**card["nl"], "title": title}}


async def until_live(desk, generation: int, timeout: float = 420,
                     trained: bool = True) -> float:
    """Seconds until the desk answers with publication `generation` (`trained`: with the
    triage retrained on it, not only the edited texts)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while desk.knowledge.current.generation != generation or (
            trained and not desk.knowledge.current.trained):
        assert loop.time() - started < timeout, "the publication never went live"
        await asyncio.sleep(0.2)
    return loop.time() - started


async def first_answer(person, question: str) -> str:
    await person.send(question)
    return (await person.expect("Onderwerp:"))["text"]


async def test_a_publication_reaches_askers_without_restart_and_restoring_brings_it_back(
        settings, redis) -> None:
    async with DeskHarness.start(settings.model_copy(update={"admin_ids": [ADMIN]})) as h:
        desk = h.desk
        await migrate(desk.editorial.store.engine)
        sanne = h.person(3101, "Sanne")
        await sanne.onboard("professional")
        before = await first_answer(sanne, QUESTION)
        sid = next(s for s in desk.kb.snippets if desk.kb.snippets[s].text("nl").title
                   in before)
        original = desk.kb.snippets[sid].text("nl").title
        card = read_seed().cards[sid]

        draft = await desk.editorial.save(ADMIN, Kind.SNIPPET, sid,
                                          edited(card, "Zorgen delen: zo zit het"), 0)
        assert isinstance(draft, KnowledgeRevision)
        # A draft is not live.
        assert "Zorgen delen: zo zit het" not in await first_answer(sanne, QUESTION)
        published = await desk.editorial.publish(ADMIN, draft.id, desk.kb)
        assert isinstance(published, KnowledgeRevision) and published.published_by
        seconds = await until_live(desk, 1, trained=False)
        assert "Zorgen delen: zo zit het" in await first_answer(sanne, QUESTION)
        retrained = await until_live(desk, 1)
        print(f"publication live after {seconds:.1f} s, retrained after {retrained:.1f} s more")
        assert "Zorgen delen: zo zit het" in await first_answer(sanne, QUESTION)

        restored = await desk.editorial.restore_seed(ADMIN, Kind.SNIPPET, sid, desk.kb)
        assert isinstance(restored, KnowledgeRevision)
        await until_live(desk, 2)
        assert original in await first_answer(sanne, QUESTION)
        history = await desk.editorial.store.history(Kind.SNIPPET, sid)
        assert [r.state for r in history] == ["published", "superseded"]
        # The first edit can be restored in one step too.
        again = await desk.editorial.restore(ADMIN, history[1].id, desk.kb)
        assert isinstance(again, KnowledgeRevision) and again.number == 3
        await until_live(desk, 3)
        assert "Zorgen delen: zo zit het" in await first_answer(sanne, QUESTION)


async def test_a_failed_reload_keeps_the_old_version_and_says_why(settings, redis) -> None:
    async with DeskHarness.start(settings.model_copy(update={"admin_ids": [ADMIN]})) as h:
        desk = h.desk
        await migrate(desk.editorial.store.engine)
        sid = next(iter(desk.kb.snippets))
        # A version that slipped past the checks (written straight into the database).
        bad = await desk.editorial.store.add(Kind.SNIPPET, sid, {"id": sid, "topics": []}, "x",
                                             0)
        assert isinstance(bad, KnowledgeRevision)
        await desk.editorial.store.publish(bad.id, "x")
        await desk.redis.incr("vb:knowledge:generation")
        for _ in range(600):
            status = await desk.redis.hgetall("vb:knowledge:status")
            if status:
                break
            await asyncio.sleep(0.1)
        assert status["outcome"] == "failed" and "topics" in status["reason"]
        assert desk.knowledge.current.generation == 0 and sid in desk.kb.snippets


async def test_publishing_checks_the_card_and_only_admins_publish(web: Web) -> None:
    desk = web.desk
    sid = next(iter(desk.kb.snippets))
    card = read_seed().cards[sid]
    short = {**card, "nl": {**card["nl"], "answer": "Te kort."}, "sources": []}
    draft = await desk.editorial.save(ADMIN, Kind.SNIPPET, sid, short, 0)
    assert isinstance(draft, KnowledgeRevision)  # a draft may have problems: no work lost
    outcome = await desk.editorial.publish(ADMIN, draft.id, desk.kb)
    assert isinstance(outcome, Invalid)
    assert {(p.field, p.code) for p in outcome.problems} >= {
        ("nl.answer", "words"), ("nl.answer", "next_step"), ("sources", "no_sources")}
    assert await desk.editorial.generation() == 0
    # An expert who is not an editor writes nothing; an editor writes, never publishes.
    assert await desk.editorial.save(EXPERT, Kind.SNIPPET, sid, card, 1) == Refused(
        "not_allowed")
    assert await desk.editorial.set_editor(EXPERT, EXPERT, True) == Refused("not_allowed")
    assert await desk.editorial.set_editor(ADMIN, EXPERT, True) is None
    mine = await desk.editorial.save(EXPERT, Kind.SNIPPET, sid, card, 1)
    assert isinstance(mine, KnowledgeRevision) and mine.author == "Marieke"
    assert await desk.editorial.publish(EXPERT, mine.id, desk.kb) == Refused("not_allowed")
    # Removed from the pool: the editor's right goes with it, at once.
    await desk.experts.remove(EXPERT)
    assert await desk.editorial.save(EXPERT, Kind.SNIPPET, sid, card, 2) == Refused(
        "not_allowed")


async def test_two_editors_saving_the_same_card_get_a_conflict(web: Web) -> None:
    desk = web.desk
    sid = next(iter(desk.kb.snippets))
    card = read_seed().cards[sid]
    first, second = await asyncio.gather(
        desk.editorial.save(ADMIN, Kind.SNIPPET, sid, edited(card, "Versie A"), 0),
        desk.editorial.save(ADMIN, Kind.SNIPPET, sid, edited(card, "Versie B"), 0))
    outcomes = sorted([first, second], key=lambda o: isinstance(o, Conflict))
    assert isinstance(outcomes[0], KnowledgeRevision) and isinstance(outcomes[1], Conflict)
    assert outcomes[1].latest.number == 1
    history = await desk.editorial.store.history(Kind.SNIPPET, sid)
    assert len(history) == 1


async def test_the_editor_pages_preview_save_and_refuse_in_the_coordinators_language(
        web: Web) -> None:
    await web.login(ADMIN)
    csrf = await web.csrf()
    sid = next(iter(web.desk.kb.snippets))
    page = await (await web.client.get(f"/dashboard/knowledge/cards/{sid}")).text()
    assert "Bewerk kaart" in page and 'name="nl_answer"' in page
    card = read_seed().cards[sid]
    form = {"csrf": csrf, "based_on": "0", "topic": card["topics"][0],
            "audience": card["audience"], "nl_title": "Nieuwe <titel>",
            "nl_answer": card["nl"]["answer"], "en_title": card["en"]["title"],
            "en_answer": card["en"]["answer"], "sources": "004 | Deel 2",
            "action": "preview"}
    resp = await web.client.post(f"/dashboard/knowledge/cards/{sid}", data=form)
    page = await resp.text()
    assert resp.status == 200
    # The preview is the bot's own rendering, its text escaped.
    assert "<b>Nieuwe &lt;titel&gt;</b>" in page and "Onderwerp:" in page
    too_short = {**form, "nl_answer": "Kort antwoord.", "sources": ""}
    page = await (await web.client.post(f"/dashboard/knowledge/cards/{sid}",
                                        data=too_short)).text()
    assert "Geef minstens één bron." in page and "Volgende stap" in page
    assert 'aria-invalid="true"' in page
    saved = await web.client.post(f"/dashboard/knowledge/cards/{sid}",
                                  data={**form, "action": "save"}, allow_redirects=False)
    assert saved.status == 303
    revision = saved.headers["Location"]
    page = await (await web.client.get(revision)).text()
    assert "+  title: Nieuwe &lt;titel&gt;" in page or "+    title: Nieuwe &lt;titel&gt;" in page
    stale = await web.client.post(f"/dashboard/knowledge/cards/{sid}",
                                  data={**form, "action": "save", "nl_title": "Andere"})
    assert stale.status == 409 and "nieuwere versie" in await stale.text()
    rid = revision.split("/")[-1].split("?")[0]
    published = await web.client.post(f"/dashboard/knowledge/revisions/{rid}/publish",
                                      data={"csrf": csrf}, allow_redirects=False)
    assert published.status == 303 and await web.desk.editorial.generation() == 1
    # Without the CSRF token nothing happens.
    forged = await web.client.post(f"/dashboard/knowledge/revisions/{rid}/restore",
                                   data={}, allow_redirects=False)
    assert forged.status == 403


async def test_the_editor_keeps_a_cards_work_roles_and_sets_the_reassuring_flag(
        web: Web) -> None:
    # Saving a card written for a work role must not drop its roles (the form once had no
    # field for them); a coordinator can mark a card as reassuring; and a forged role that
    # is not a work role is not stored.
    await web.login(ADMIN)
    csrf = await web.csrf()
    sid, card = next((sid, c) for sid, c in read_seed().cards.items() if c.get("roles"))
    url = f"/dashboard/knowledge/cards/{sid}"
    page = await (await web.client.get(url)).text()
    for role in card["roles"]:
        assert f'name="roles" value="{role}" checked' in page
    assert "Alleen voor wie zegt te werken in" in page and 'name="reassures"' in page
    fields = card_fields(card)
    form = [(name, value) for name, value in fields.items()
            if isinstance(value, str) and name != "reassures"]
    form += [("topics", t) for t in fields["topics"]] + [("links", x) for x in fields["links"]]
    form += [("csrf", csrf), ("action", "save")]
    roles = [("roles", r) for r in card["roles"]]

    async def saved(extra: list[tuple[str, str]]) -> dict:
        """Save on top of the newest version; the version that save made."""
        history = await web.desk.editorial.store.history(Kind.SNIPPET, sid)
        based_on = ("based_on", str(history[0].number if history else 0))
        resp = await web.client.post(url, data=[*form, based_on, *extra], allow_redirects=False)
        assert resp.status == 303, await resp.text()
        return body_of((await web.desk.editorial.store.history(Kind.SNIPPET, sid))[0])

    body = await saved([*roles, ("roles", "admin"), ("reassures", "1")])
    assert body["roles"] == card["roles"] and body["reassures"] is True
    body = await saved([])  # both unchecked
    assert "roles" not in body and "reassures" not in body


async def test_experts_do_not_see_the_editor_unless_allowed(web: Web) -> None:
    await web.login(EXPERT)
    sid = next(iter(web.desk.kb.snippets))
    assert (await web.client.get(f"/dashboard/knowledge/cards/{sid}")).status == 403
    assert (await web.client.get("/dashboard/gaps")).status == 403
    page = await (await web.client.get("/dashboard/knowledge")).text()
    assert f"/dashboard/knowledge/cards/{sid}" not in page
    await web.desk.editorial.set_editor(ADMIN, EXPERT, True)
    assert (await web.client.get(f"/dashboard/knowledge/cards/{sid}")).status == 200
    csrf = await web.csrf()
    draft = await web.desk.editorial.save(EXPERT, Kind.SNIPPET, sid, read_seed().cards[sid], 0)
    resp = await web.client.post(f"/dashboard/knowledge/revisions/{draft.id}/publish",
                                 data={"csrf": csrf})
    assert resp.status == 403


def test_export_writes_the_published_knowledge_and_loads_back(tmp_path: Path, kb) -> None:
    from knowledge.base import Overlay

    seed = read_seed()
    first, second, third = list(seed.cards)[:3]
    new = {**seed.cards[first], "id": "signals-new-card", "examples": {"nl": ["een vraag"],
                                                                        "en": []}}
    overlay = Overlay({first: edited(seed.cards[first], "Bijgewerkt"),
                       "signals-new-card": {**new, "topics": ["signals"]},
                       second: {"id": second, "retired": True, "successor": third}})
    expected = load_knowledge(overlay=overlay)
    export(tmp_path / "out", overlay)
    again = load_knowledge(tmp_path / "out")
    assert again.snippets[first].text("nl").title == "Bijgewerkt"
    assert "signals-new-card" in again.snippets and second not in again.snippets
    assert again.resolve(second).id == third
    assert again.snippet_examples["signals-new-card"]["nl"] == ("een vraag",)
    assert set(again.snippets) == set(expected.snippets)
    # The practice cases are not part of a card: an edited card keeps its own, a retired
    # card's go with it, live and exported alike.
    assert again.case_examples == expected.case_examples
    assert again.snippet_examples == expected.snippet_examples
    with pytest.raises(FileExistsError):
        export(tmp_path / "out", overlay)


def test_an_edited_card_keeps_its_practice_cases_out_of_the_editor(kb) -> None:
    """The editor shows and replaces a card's own example questions; the practice cases
    (snippet_examples/cases/) stay with the card for the ranker, and never count toward the
    editor's limit."""
    from knowledge.base import Overlay

    seed = read_seed()
    sid = max(seed.cards, key=lambda c: len({*kb.snippet_examples[c]["nl"]} & kb.case_examples))
    cases = [q for q in kb.snippet_examples[sid]["nl"] if q in kb.case_examples]
    own = seed.cards[sid]["examples"]["nl"]
    assert len(cases) >= 3 and not set(own) & kb.case_examples
    assert [q for q in kb.snippet_examples[sid]["nl"] if q not in kb.case_examples] == own
    card = {**seed.cards[sid], "examples": {"nl": ["een nieuwe vraag"], "en": []}}
    after = load_knowledge(overlay=Overlay({sid: card}))
    assert after.snippet_examples[sid]["nl"] == ("een nieuwe vraag", *cases)
    assert after.snippet_examples[sid]["en"] == tuple(
        q for q in kb.snippet_examples[sid]["en"] if q in kb.case_examples)
    assert after.case_examples == kb.case_examples


def test_import_refuses_an_invalid_file_set_by_name(tmp_path: Path, settings) -> None:
    from knowledge.base import DATA_DIR

    target = tmp_path / "kennis"
    import shutil

    shutil.copytree(DATA_DIR, target)
    path = target / "snippets" / "signals.yaml"
    path.write_text(path.read_text().replace("Volgende stap", "Volgende stap", 1)
                    .replace("links: [advieslijn_jep", "links: [bestaat_niet", 1))
    env = {"VRAAGBAAK_DATA_DIR": str(settings.data_dir), "VRAAGBAAK_REDIS_URL":
           str(settings.redis_url), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "knowledge", "import",
                           str(target)], env=env, capture_output=True, text=True,
                          timeout=240, cwd=Path(__file__).parent.parent)
    assert done.returncode == 1
    assert re.search(r"knowledge error: signals\.yaml: .*unknown referral 'bestaat_niet'",
                     done.stderr), done.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`make browser`)")
async def test_in_the_browser_an_admin_edits_previews_publishes_and_restores(
        settings, redis) -> None:
    """The whole loop as a coordinator does it, in Chromium; an asker in the sandbox reads
    the new text without a restart, and the text as installed again after the restore."""
    from playwright.async_api import async_playwright, expect

    coordinator = 3401
    async with demo_desk(settings.model_copy(update={"admin_ids": [coordinator]}),
                         "127.0.0.1", 0, with_worker=False) as ready, \
            aiohttp.ClientSession() as http:
        harness = DeskHarness(ready.sandbox, ready.url, ready.desk, http, ready.settings,
                              ready.app)
        sanne = harness.person(3402, "Sanne")
        await sanne.onboard("professional")
        before = await first_answer(sanne, QUESTION)
        sid = next(s for s in ready.desk.kb.snippets
                   if ready.desk.kb.snippets[s].text("nl").title in before)
        original = ready.desk.kb.snippets[sid].text("nl").title
        admin = harness.person(coordinator, "Coördinator")
        await admin.send("/dashboard")
        link = re.search(r"(http://\S+)", (await admin.expect("dashboard/login"))["text"])
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = await browser.new_page(locale="nl-NL")
                await page.goto(link.group(1))
                await page.get_by_role("button", name="Inloggen").click()
                await page.goto(f"{ready.url}/dashboard/knowledge?q={sid}")
                await page.get_by_role("link", name=original).click()
                await page.locator("#f-nl_title").fill("Zorgen delen met de wijkagent")
                await page.get_by_role("button", name="Voorbeeld", exact=True).click()
                await expect(page.locator(".bubble[lang=nl] b").first).to_have_text(
                    "Zorgen delen met de wijkagent")
                await page.get_by_role("button", name="Opslaan als concept").click()
                await expect(page.get_by_text("Opgeslagen als concept")).to_be_visible()
                await page.get_by_role("button", name="Publiceren").click()
                await expect(page.get_by_text("Gepubliceerd.")).to_be_visible()
                await until_live(ready.desk, 1, trained=False)
                assert "Zorgen delen met de wijkagent" in await first_answer(sanne, QUESTION)
                await page.goto(f"{ready.url}/dashboard/knowledge/cards/{sid}")
                await page.get_by_role("button", name="Terugzetten zoals geïnstalleerd").click()
                await expect(page.get_by_text("Gepubliceerd.")).to_be_visible()
                await until_live(ready.desk, 2, trained=False)
                assert original in await first_answer(sanne, QUESTION)
                await until_live(ready.desk, 2)  # the retrain ends before the desk stops
            finally:
                await browser.close()


def test_import_publishes_what_changed_and_export_writes_it_back(tmp_path: Path, settings,
                                                                  redis) -> None:
    import shutil

    from knowledge.base import DATA_DIR

    source = tmp_path / "kennis"
    shutil.copytree(DATA_DIR, source)
    sid = next(iter(read_seed().cards))
    title = read_seed().cards[sid]["nl"]["title"]
    path = read_seed(source).card_files[sid]
    path.write_text(path.read_text(encoding="utf-8").replace(title, "Geïmporteerde titel", 1),
                    encoding="utf-8")
    env = {"VRAAGBAAK_DATA_DIR": str(settings.data_dir), "VRAAGBAAK_REDIS_URL":
           str(settings.redis_url), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "knowledge", *args], env=env,
                              capture_output=True, text=True, timeout=240,
                              cwd=Path(__file__).parent.parent)

    done = cli("import", str(source))
    assert done.returncode == 0, done.stderr
    assert "published 1 changed items" in done.stdout
    assert cli("import", str(source)).stdout.startswith("published 0")  # nothing new
    out = tmp_path / "export"
    assert cli("export", str(out)).returncode == 0
    assert load_knowledge(out).snippets[sid].text("nl").title == "Geïmporteerde titel"


async def test_a_restart_answers_with_the_published_version(settings, redis) -> None:
    admin = settings.model_copy(update={"admin_ids": [ADMIN]})
    sid = next(iter(read_seed().cards))
    async with DeskHarness.start(admin) as first:
        await migrate(first.desk.editorial.store.engine)
        draft = await first.desk.editorial.save(
            ADMIN, Kind.SNIPPET, sid, edited(read_seed().cards[sid], "Na de herstart"), 0)
        assert isinstance(await first.desk.editorial.publish(ADMIN, draft.id, first.desk.kb),
                          KnowledgeRevision)
    # The same data directory and database, a new process: the edit is there from the start,
    # before any reload.
    async with DeskHarness.start(admin) as second:
        assert second.desk.kb.snippets[sid].text("nl").title == "Na de herstart"
