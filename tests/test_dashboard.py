"""The web app through aiohttp's test client: health, metrics, login, sessions, CSRF, headers,
the pages (on SQLite and PostgreSQL) and what an anonymous visitor gets (nothing)."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from aiohttp.test_utils import TestClient, TestServer
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from prometheus_client import REGISTRY
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import desk_services
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web import keys as web_keys
from bot.web.app import ENGINE
from bot.web.login import LoginLinks
from bot.worker import HEARTBEAT_KEY
from handoff.models import ConversationSummary
from handoff.summaries import expert_ref
from tests.web_harness import ADMIN, EXPERT, Web

pytestmark = pytest.mark.timeout(60)

PAGES = ["/dashboard", "/dashboard/queue", "/dashboard/queue/live", "/dashboard/summaries",
         "/dashboard/experts", "/dashboard/knowledge", "/dashboard/trends",
         "/dashboard/trends.csv?table=rising"]


async def test_healthz_names_what_is_down(web: Web) -> None:
    resp = await web.client.get("/healthz")
    assert resp.status == 503 and await resp.json() == {
        "status": "down", "down": ["worker"], "degraded": []}
    await web.desk.redis.set(HEARTBEAT_KEY, "1", ex=30)
    resp = await web.client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {
        "status": "ok", "down": [], "degraded": []}
    # A webhook update stored long ago and still not handled: the feed is stuck.
    await web.desk.redis.xadd(web_keys.webhook(), {"update": "{}"}, id="1000-0")
    resp = await web.client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {
        "status": "degraded", "down": [], "degraded": ["webhook_backlog"]}


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
    resp = await web.client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/queue"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http in the test; see the https test below
    assert (await web.client.get("/dashboard/queue", allow_redirects=False)).status == 200
    web.client.session.cookie_jar.clear()
    again = await web.client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/dashboard/how")
    assert "Set-Cookie" not in again.headers


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
        resp = await web.client.post("/dashboard/login", data={"t": token},
                                     allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/dashboard/how")
        assert "Set-Cookie" not in resp.headers


async def test_cookie_is_secure_behind_https(settings: Settings, redis) -> None:
    https = settings.model_copy(update={"web_public_url": "https://desk.example.org",
                                        "admin_ids": [ADMIN]})
    async with desk_services(https) as desk, TestClient(TestServer(
            init_app(https, desk, WebState()))) as client:
        token = await LoginLinks(desk.redis, https.secret()).issue(ADMIN)
        resp = await client.post("/dashboard/login", data={"t": token}, allow_redirects=False)
        assert "Secure" in resp.headers["Set-Cookie"]


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
    for path in ["/dashboard/how", *PAGES[1:-1]]:
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
    assert f"Vraagsteller {number}" in page and "Gelderland" in page and "jeugdhulp" in page
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
    resp = await web.client.post(f"/dashboard/experts/{EXPERT}/remove", data={"csrf": csrf})
    assert resp.status == 200 and not await web.desk.experts.is_expert(EXPERT)
    assert [t.id for t in await web.desk.handoff.queue()] == [ticket.id]
    assert (await web.client.post("/dashboard/experts/999/remove",
                                  data={"csrf": csrf})).status == 404


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


async def test_experts_page_shows_conversations_time_to_claim_and_rating(web: Web) -> None:
    await add_summaries(web, [{"waiting_minutes": 10, "rating": 4},
                              {"waiting_minutes": 20, "rating": 5}])
    await web.login(ADMIN)
    page = await (await web.client.get("/dashboard/experts")).text()
    row = page[page.index("Marieke"):page.index("</tr>", page.index("Marieke"))]
    assert "<td>2</td>" in row and "15 min" in row and "4.5" in row


async def test_knowledge_page_counts_served_votes_and_handoffs(web: Web) -> None:
    trends = web.desk.trends
    sid = next(iter(web.desk.kb.snippets))
    for user in range(6001, 6007):
        await trends.answered(user, "family", "professional", "nl", False, sid)
    await trends.handoff(6001)
    await web.desk.feedback.record(sid, False)
    await web.login(EXPERT)
    page = await (await web.client.get("/dashboard/knowledge")).text()
    row = page[page.index(sid) - 300:page.index("</tr>", page.index(sid))]
    assert "<td>6</td>" in row and "<td>0</td><td>1</td>" in row and "1 (17%)" in row
    assert 'class="weak"' in row


async def test_migrations_reach_the_newest_revision(web: Web) -> None:
    from sqlalchemy import text

    async with web.client.app[ENGINE].connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        count = (await conn.execute(text("SELECT count(*) FROM question_trend"))).scalar()
    assert version == "0003" and count == 0


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
