"""The dashboard's knowledge editor: cards and referrals, drafts, preview, publication,
history and restore. Every rule is in knowledge.editorial; these pages render its answers."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp_jinja2
import yaml
from aiohttp import web
from markupsafe import Markup

from bot.web.app import DESK, GAPS, PREFIX
from bot.web.card_form import (
    card_fields,
    card_from_form,
    referral_fields,
    referral_from_form,
    valid_new_id,
)
from bot.web.pages import page_context, session_of
from handlers.render import snippet_text
from handoff.models import KnowledgeRevision
from knowledge import keys
from knowledge.base import KnowledgeBase, KnowledgeError, WorkRole, build_card
from knowledge.editorial import Invalid, Refused, Role
from knowledge.feedback import FeedbackStore
from knowledge.revisions import Conflict, Kind, State, body_of
from knowledge.seed import SeedItems, published_items
from knowledge.style import Problem
from knowledge.topics import LANGS, Topic
from knowledge.trends import snippet_counts
from locales import Translator, translator

KNOWLEDGE = f"{PREFIX}/knowledge"


def seed(request: web.Request) -> SeedItems:
    """The seed files as data."""
    return request.app[DESK].editorial.seed


async def published(request: web.Request) -> SeedItems:
    """Every card and referral as now published."""
    editorial = request.app[DESK].editorial
    return published_items(editorial.seed, await editorial.store.overlay())


async def role_of(request: web.Request) -> Role:
    """The visitor's knowledge role, checked now (not when they logged in)."""
    return await request.app[DESK].editorial.role(session_of(request).user_id)


async def editor_only(request: web.Request) -> Role:
    """403 unless the visitor may write drafts."""
    role = await role_of(request)
    if role < Role.EDITOR:
        raise web.HTTPForbidden(text="knowledge editors only")
    return role


def problem_text(tr: Translator, problem: Problem) -> str:
    """A problem in the coordinator's language."""
    messages = {
        "required": tr._("This field is required."),
        "too_long": tr._("At most {limit} characters (now {length})."),
        "words": tr._("The answer has {words} words; it should have {low} to {high}."),
        "next_step": tr._('The answer ends with a concrete next step that starts with '
                          '"{marker}".'),
        "advieslijn": tr._('Write "Advieslijn" with a capital; in English "Advieslijn '
                           '(advice line)".'),
        "too_many": tr._("At most {limit}."),
        "unknown_referral": tr._("Unknown referral: {id}."),
        "no_sources": tr._("Give at least one source."),
        "source_where": tr._("Source {n}: say what it says, or where in it."),
        "source_url": tr._("Source {n}: the link is not a valid web address."),
        "source_checked": tr._("Source {n}: give the date the page was read "
                               "(YYYY-MM-DD)."),
        "source_kind": tr._("Source {n}: name a seed document (000-004), the desk's own "
                            "policy (desk), or a web page with its date."),
        "contact_source": tr._("A link or phone number needs the source it was copied "
                               "from."),
        "id_changed": tr._("An id cannot change."),
        "bad_id": tr._("Use 3-80 lowercase letters, digits, - or _."),
        "exists": tr._("This id is already taken."),
    }
    return messages.get(problem.code, problem.code).format(**problem.values)


def field_label(tr: Translator, name: str) -> str:
    """A field's name as the form shows it."""
    lang_names = {"nl": tr._("Dutch"), "en": tr._("English")}
    base, _, lang = name.partition(".")
    labels = {"title": tr._("Title"), "answer": tr._("Answer"), "topics": tr._("Topics"),
              "links": tr._("Referrals"), "sources": tr._("Sources"),
              "examples": tr._("Example questions"), "name": tr._("Name"),
              "offers": tr._("What it offers"), "audience": tr._("For whom"),
              "contact": tr._("Source of the contact details"), "id": tr._("Id"),
              "successor": tr._("Successor card")}
    if base in lang_names:  # "nl.title"
        return f"{labels.get(lang, lang)} ({lang_names[base]})"
    if lang in lang_names:  # "name.nl"
        return f"{labels.get(base, base)} ({lang_names[lang]})"
    return labels.get(base, base)


def invalid_view(tr: Translator, invalid: Invalid | None) -> dict[str, Any]:
    """Problems per field, and the loader's own message, for the template."""
    if invalid is None:
        return {"problems": [], "by_field": {}, "detail": None}
    by_field: dict[str, list[str]] = {}
    rows = []
    for problem in invalid.problems:
        text = problem_text(tr, problem)
        by_field.setdefault(problem.field.replace(".", "_"), []).append(text)
        rows.append({"field": field_label(tr, problem.field), "text": text,
                     "anchor": problem.field.replace(".", "_")})
    return {"problems": rows, "by_field": by_field, "detail": invalid.detail}


def preview(request: web.Request, card: dict[str, Any]) -> tuple[dict[str, Markup], str | None]:
    """The card exactly as the bot would send it, per language (Telegram's HTML shown as
    HTML); or the loader's reason it cannot be built."""
    kb = request.app[DESK].kb
    try:
        snippet = build_card(card, kb.referrals)
    except KnowledgeError as exc:
        return {}, str(exc)
    out = {}
    for lang in LANGS:
        html = snippet_text(kb, translator(lang), snippet, lang)
        # The bot escapes every text it puts in: only its own <b>, <i> and <a> remain.
        out[lang] = Markup(html.replace("\n", "<br>\n"))
    return out, None


def _card_context(request: web.Request, role: Role, item_id: str, fields: dict[str, Any],
                  based_on: int, history: list[KnowledgeRevision], is_new: bool,
                  **values: Any) -> dict[str, Any]:
    kb = request.app[DESK].kb
    context = page_context(request, item_id=item_id, fields=fields, based_on=based_on,
                           history=history, is_new=is_new, role=int(role),
                           admin=role >= Role.ADMIN, **values)
    lang = context["lang"]
    context["topic_options"] = [(t.value, kb.topics[t].label[lang]) for t in Topic]
    context["referral_options"] = [(r.id, r.name[lang]) for r in kb.referrals.values()]
    context["work_roles"] = [role.value for role in WorkRole]
    context["successor_options"] = [(s.id, s.text(lang).title) for s in kb.snippets.values()
                                    if s.id != item_id]
    context.setdefault("checks", invalid_view(translator(lang), None))
    context.setdefault("previews", {})
    context.setdefault("preview_error", None)
    context.setdefault("conflict", None)
    context.setdefault("saved", None)
    context.setdefault("in_seed", False)
    context.setdefault("retired", False)
    return context


async def card_page(request: web.Request) -> web.Response:
    """GET: a card's editor, with its history."""
    role = await editor_only(request)
    item_id = request.match_info["item_id"]
    items = await published(request)
    store = request.app[DESK].editorial.store
    history = await store.history(Kind.SNIPPET, item_id)
    if item_id not in items.cards and not history:
        raise web.HTTPNotFound()
    # The newest draft is where work continues; else the published text.
    newest = history[0] if history else None
    body = body_of(newest) if newest and newest.state == State.DRAFT else items.cards.get(
        item_id) or (body_of(newest) if newest else {})
    context = _card_context(request, role, item_id, card_fields(body),
                            newest.number if newest else 0, history, False,
                            retired=bool(body.get("retired")),
                            in_seed=item_id in seed(request).cards)
    return aiohttp_jinja2.render_template("card_edit.html", request, context)


async def new_card_page(request: web.Request) -> web.Response:
    """GET: an empty card (or one started from an unanswered question)."""
    role = await editor_only(request)
    fields = card_fields({"audience": "both", "topics": [request.query.get("topic", "")]})
    gap_id = request.query.get("gap", "")
    if gap_id.isdigit():
        gap = await request.app[GAPS].get(int(gap_id))
        if gap is not None:
            fields[f"{gap.lang}_examples"] = gap.text
            fields["topic"] = gap.topic
    context = _card_context(request, role, "", fields, 0, [], True)
    return aiohttp_jinja2.render_template("card_edit.html", request, context)


async def _posted_item(request: web.Request, form: Mapping[str, Any], kind: Kind,
                       ) -> tuple[bool, str, int, Problem | None]:
    """What an editor form posts about its item: whether it is new, its id, the version it
    was based on, and what is wrong with a new id (malformed, or taken by a live item, a
    retired one or any saved version)."""
    desk = request.app[DESK]
    is_new = "item_id" not in request.match_info
    item_id = (str(form.get("new_id", "")).strip() if is_new
               else request.match_info["item_id"])
    try:
        based_on = int(str(form.get("based_on", "0")))
    except ValueError:
        based_on = 0
    problem = None
    if is_new:
        live = (desk.kb.resolve(item_id) is not None if kind is Kind.SNIPPET
                else item_id in desk.kb.referrals)
        if not valid_new_id(item_id):
            problem = Problem("id", "bad_id")
        elif live or await desk.editorial.store.latest_number(kind, item_id):
            problem = Problem("id", "exists")
    return is_new, item_id, based_on, problem


async def _save_posted(request: web.Request, form: Mapping[str, Any], kind: Kind,
                       item_id: str, item: dict[str, Any], based_on: int,
                       ) -> KnowledgeRevision | None:
    """Save a posted draft: on to its revision page once saved (403 if refused); the newer
    revision it conflicts with, for the form to show, when someone saved in between."""
    outcome = await request.app[DESK].editorial.save(
        session_of(request).user_id, kind, item_id, item, based_on,
        str(form.get("note", ""))[:200])
    if isinstance(outcome, Refused):
        raise web.HTTPForbidden(text=outcome.reason)
    if isinstance(outcome, KnowledgeRevision):
        raise web.HTTPSeeOther(f"{KNOWLEDGE}/revisions/{outcome.id}?saved=1")
    return outcome.latest if isinstance(outcome, Conflict) else None


async def card_post(request: web.Request) -> web.Response:
    """POST: preview, or save a draft (a new card names its id in the form)."""
    role = await editor_only(request)
    form = await request.post()
    desk = request.app[DESK]
    is_new, item_id, based_on, id_problem = await _posted_item(request, form, Kind.SNIPPET)
    tr = translator(page_context(request)["lang"])
    card = card_from_form(form, item_id)
    problems = [*filter(None, [id_problem]),
                *desk.editorial.problems(Kind.SNIPPET, card, desk.kb)]
    checks = invalid_view(tr, Invalid(problems) if problems else None)
    history = [] if is_new else await desk.editorial.store.history(Kind.SNIPPET, item_id)
    values: dict[str, Any] = {"checks": checks}
    if form.get("action") == "save" and id_problem is None:
        values["conflict"] = await _save_posted(request, form, Kind.SNIPPET, item_id, card,
                                                based_on)
    previews, error = preview(request, card)
    values.update(previews=previews, preview_error=error)
    context = _card_context(request, role, item_id, card_fields(card), based_on, history,
                            is_new, **values)
    status = 409 if values.get("conflict") else 200
    response = aiohttp_jinja2.render_template("card_edit.html", request, context)
    response.set_status(status)
    return response


async def retire_post(request: web.Request) -> web.Response:
    """POST: a draft that retires the card in favour of a successor."""
    await editor_only(request)
    form = await request.post()
    item_id = request.match_info["item_id"]
    desk = request.app[DESK]
    successor = str(form.get("successor", ""))
    if desk.kb.snippets.get(successor) is None or successor == item_id:
        raise web.HTTPBadRequest(text="choose a live successor card")
    latest = await desk.editorial.store.latest_number(Kind.SNIPPET, item_id)
    outcome = await desk.editorial.save(session_of(request).user_id, Kind.SNIPPET, item_id,
                                        {"id": item_id, "retired": True,
                                         "successor": successor}, latest,
                                        str(form.get("note", ""))[:200])
    if isinstance(outcome, Refused):
        raise web.HTTPForbidden(text=outcome.reason)
    if isinstance(outcome, Conflict):
        raise web.HTTPSeeOther(f"{KNOWLEDGE}/cards/{item_id}?conflict=1")
    assert isinstance(outcome, KnowledgeRevision)
    raise web.HTTPSeeOther(f"{KNOWLEDGE}/revisions/{outcome.id}?saved=1")


async def installed_post(request: web.Request) -> web.Response:
    """POST: publish a card or referral as installed again (admins)."""
    kind = Kind.SNIPPET if request.match_info["kind"] == "cards" else Kind.REFERRAL
    desk = request.app[DESK]
    outcome = await desk.editorial.restore_seed(session_of(request).user_id, kind,
                                                request.match_info["item_id"], desk.kb)
    if isinstance(outcome, Refused):
        raise (web.HTTPForbidden(text="admins only") if outcome.reason == "not_allowed"
               else web.HTTPNotFound())
    if isinstance(outcome, KnowledgeRevision):
        raise web.HTTPSeeOther(f"{KNOWLEDGE}/revisions/{outcome.id}?published=1")
    raise web.HTTPSeeOther(f"{KNOWLEDGE}/{request.match_info['kind']}/"
                           f"{request.match_info['item_id']}?conflict=1")


# -- referrals ----------------------------------------------------------------------------------

async def referral_page(request: web.Request) -> web.Response:
    """GET: a referral's editor (or an empty one)."""
    role = await editor_only(request)
    item_id = request.match_info.get("item_id", "")
    items = await published(request)
    history = []
    if item_id:
        history = await request.app[DESK].editorial.store.history(Kind.REFERRAL, item_id)
        if item_id not in items.referrals and not history:
            raise web.HTTPNotFound()
    newest = history[0] if history else None
    body = body_of(newest) if newest and newest.state == State.DRAFT else \
        items.referrals.get(item_id, {})
    context = page_context(request, item_id=item_id, fields=referral_fields(body),
                           based_on=newest.number if newest else 0, history=history,
                           is_new=not item_id, admin=role >= Role.ADMIN,
                           checks=invalid_view(translator(page_context(request)["lang"]), None),
                           conflict=None,
                           in_seed=item_id in seed(request).referrals)
    return aiohttp_jinja2.render_template("referral_edit.html", request, context)


async def referral_post(request: web.Request) -> web.Response:
    """POST: save a referral draft."""
    role = await editor_only(request)
    form = await request.post()
    desk = request.app[DESK]
    is_new, item_id, based_on, id_problem = await _posted_item(request, form, Kind.REFERRAL)
    referral = referral_from_form(form, item_id)
    tr = translator(page_context(request)["lang"])
    problems = [*filter(None, [id_problem]),
                *desk.editorial.problems(Kind.REFERRAL, referral, desk.kb)]
    conflict = None
    if id_problem is None:
        conflict = await _save_posted(request, form, Kind.REFERRAL, item_id, referral,
                                      based_on)
    history = [] if is_new else await desk.editorial.store.history(Kind.REFERRAL, item_id)
    context = page_context(request, item_id=item_id, fields=referral_fields(referral),
                           based_on=based_on, history=history, is_new=is_new,
                           admin=role >= Role.ADMIN,
                           checks=invalid_view(tr, Invalid(problems) if problems else None),
                           conflict=conflict, in_seed=item_id in seed(request).referrals)
    response = aiohttp_jinja2.render_template("referral_edit.html", request, context)
    response.set_status(409 if conflict else 200)
    return response


# -- revisions ----------------------------------------------------------------------------------

def _dump(body: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(body, allow_unicode=True, sort_keys=True, width=90).splitlines()


async def _revision(request: web.Request) -> KnowledgeRevision:
    try:
        revision_id = int(request.match_info["revision_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    revision = await request.app[DESK].editorial.store.get(revision_id)
    if revision is None:
        raise web.HTTPNotFound()
    return revision


async def revision_page(request: web.Request, invalid: Invalid | None = None,
                        refused: str | None = None) -> web.Response:
    """GET: one version: what it changes against the published text, its checks, and what
    the visitor may do with it."""
    role = await editor_only(request)
    revision = await _revision(request)
    desk = request.app[DESK]
    kind = Kind(revision.kind)
    items = await published(request)
    current = (items.cards if kind is Kind.SNIPPET else items.referrals).get(
        revision.item_id, {})
    body = body_of(revision)
    diff = list(difflib.unified_diff(_dump(current), _dump(body), "published", "this version",
                                     lineterm="", n=2))
    context = page_context(request, revision=revision, kind=kind.value, diff=diff,
                           admin=role >= Role.ADMIN, refused=refused,
                           saved=request.query.get("saved") == "1",
                           published=request.query.get("published") == "1")
    tr = translator(context["lang"])
    if invalid is None and revision.state == State.DRAFT:
        problems = desk.editorial.problems(kind, body, desk.kb)
        context["checks"] = invalid_view(tr, Invalid(problems) if problems else None)
    else:
        context["checks"] = invalid_view(tr, invalid)
    context["previews"], context["preview_error"] = (
        preview(request, body) if kind is Kind.SNIPPET and not body.get("retired")
        else ({}, None))
    response = aiohttp_jinja2.render_template("revision.html", request, context)
    if invalid is not None or refused:
        response.set_status(422 if invalid is not None else 409)
    return response


async def publish_post(request: web.Request) -> web.Response:
    """POST: publish a draft (admins); the desk reloads within seconds."""
    editorial = request.app[DESK].editorial
    return await _revision_action(request, editorial.publish)


async def restore_post(request: web.Request) -> web.Response:
    """POST: publish an earlier version again (admins)."""
    return await _revision_action(request, request.app[DESK].editorial.restore)


async def _revision_action(request: web.Request,
                           operation: Callable[[int, int, KnowledgeBase], Awaitable[object]],
                           ) -> web.Response:
    revision = await _revision(request)
    outcome = await operation(session_of(request).user_id, revision.id or 0,
                              request.app[DESK].kb)
    return await _after(request, outcome, revision)


async def discard_post(request: web.Request) -> web.Response:
    """POST: drop a draft (its author or an admin)."""
    revision = await _revision(request)
    refused = await request.app[DESK].editorial.discard(session_of(request).user_id,
                                                         revision.id or 0)
    if refused is not None and refused.reason == "not_allowed":
        raise web.HTTPForbidden(text="not allowed")
    raise web.HTTPSeeOther(f"{KNOWLEDGE}/revisions/{revision.id}")


async def _after(request: web.Request, outcome: object,
                 revision: KnowledgeRevision) -> web.Response:
    if isinstance(outcome, Refused):
        if outcome.reason == "not_allowed":
            raise web.HTTPForbidden(text="admins only")
        return await revision_page(request, refused=outcome.reason)
    if isinstance(outcome, Invalid):
        return await revision_page(request, invalid=outcome)
    if isinstance(outcome, Conflict):
        return await revision_page(request, refused="conflict")
    assert isinstance(outcome, KnowledgeRevision)
    raise web.HTTPSeeOther(f"{KNOWLEDGE}/revisions/{outcome.id}?published=1")


# -- the list ------------------------------------------------------------------------------------

def is_weak(up: int, down: int, served: int, handoffs: int) -> bool:
    """More 'does not help' than 'helps', or an expert asked for after half its answers."""
    return down > up or (served >= 5 and handoffs / served >= 0.5)


async def knowledge_page(request: web.Request) -> web.Response:
    """Per card: times served, votes, handoffs that followed; search and filters; drafts
    waiting, the last reload, and (admins) who may write drafts."""
    desk = request.app[DESK]
    served, handoffs = await snippet_counts(desk.redis)
    votes = await FeedbackStore(desk.redis).counts()
    role = await role_of(request)
    query = request.query
    filters = {name: query.get(name, "")[:100] for name in ("q", "topic", "audience", "weak")}
    context = page_context(request, filters=filters, role=int(role),
                           editor=role >= Role.EDITOR, admin=role >= Role.ADMIN)
    lang = context["lang"]
    needle = filters["q"].casefold().strip()
    rows = []
    for sid, snippet in desk.kb.snippets.items():
        up, down = votes.get(sid, (0, 0))
        shown, followed = served.get(sid, 0), handoffs.get(sid, 0)
        weak = is_weak(up, down, shown, followed)
        texts = [sid, *(snippet.text(x).title for x in LANGS),
                 *(snippet.text(x).answer for x in LANGS)]
        if (needle and not any(needle in t.casefold() for t in texts)) or (
                filters["topic"] and filters["topic"] not in {t.value for t in snippet.topics}
        ) or (filters["audience"] and snippet.audience.value != filters["audience"]) or (
                filters["weak"] and not weak):
            continue
        rows.append({
            "id": sid, "title": snippet.text(lang).title, "audience": snippet.audience.value,
            "topic": desk.kb.topics[snippet.topic].label[lang], "served": shown,
            "up": up, "down": down, "handoffs": followed,
            "handoff_rate": round(100 * followed / shown) if shown else None, "weak": weak,
        })
    # Weak cards first, then the most served.
    rows.sort(key=lambda r: (not r["weak"], -r["served"], r["id"]))
    context["rows"] = rows
    context["topic_options"] = [(t.value, desk.kb.topics[t].label[lang]) for t in Topic]
    if role >= Role.EDITOR:
        context["drafts"] = await desk.editorial.store.drafts()
        context["status"] = await reload_status(request)
        context["referrals"] = [(r.id, r.name[lang]) for r in desk.kb.referrals.values()]
    if role >= Role.ADMIN:
        editors = await desk.editorial.editors()
        context["pool"] = [{"id": e.expert_id, "name": e.display_name,
                            "editor": e.expert_id in editors}
                           for e in await desk.experts.list()]
    return aiohttp_jinja2.render_template("knowledge.html", request, context)


# -- editors and the reload status ---------------------------------------------------------------

async def editors_post(request: web.Request) -> web.Response:
    """POST: an admin lets an expert write drafts, or stops it."""
    form = await request.post()
    try:
        expert_id = int(str(form.get("expert_id", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="expert_id") from None
    refused = await request.app[DESK].editorial.set_editor(
        session_of(request).user_id, expert_id, form.get("allowed") == "1")
    if refused is not None:
        raise (web.HTTPForbidden(text="admins only") if refused.reason == "not_allowed"
               else web.HTTPNotFound())
    raise web.HTTPSeeOther(f"{KNOWLEDGE}#editors")


async def reload_status(request: web.Request) -> dict[str, Any]:
    """What the knowledge page says about the last publication's reload."""
    desk = request.app[DESK]
    status = await desk.redis.hgetall(keys.knowledge_status())
    generation = await desk.editorial.generation()
    return {"generation": generation, "live": desk.knowledge.current.generation,
            "outcome": status.get("outcome"), "seconds": status.get("seconds"),
            "reason": status.get("reason"),
            "pending": generation != desk.knowledge.current.generation}


def setup_routes(app: web.Application) -> None:
    """The editor's pages."""
    app.router.add_get(KNOWLEDGE, knowledge_page)
    app.router.add_get(f"{KNOWLEDGE}/cards/new", new_card_page)
    app.router.add_post(f"{KNOWLEDGE}/cards", card_post)
    app.router.add_get(f"{KNOWLEDGE}/cards/{{item_id}}", card_page)
    app.router.add_post(f"{KNOWLEDGE}/cards/{{item_id}}", card_post)
    app.router.add_post(f"{KNOWLEDGE}/cards/{{item_id}}/retire", retire_post)
    app.router.add_get(f"{KNOWLEDGE}/referrals/new", referral_page)
    app.router.add_post(f"{KNOWLEDGE}/referrals", referral_post)
    app.router.add_get(f"{KNOWLEDGE}/referrals/{{item_id}}", referral_page)
    app.router.add_post(f"{KNOWLEDGE}/referrals/{{item_id}}", referral_post)
    app.router.add_get(f"{KNOWLEDGE}/revisions/{{revision_id}}", revision_page)
    app.router.add_post(f"{KNOWLEDGE}/revisions/{{revision_id}}/publish", publish_post)
    app.router.add_post(f"{KNOWLEDGE}/revisions/{{revision_id}}/restore", restore_post)
    app.router.add_post(f"{KNOWLEDGE}/revisions/{{revision_id}}/discard", discard_post)
    app.router.add_post(f"{KNOWLEDGE}/editors", editors_post)
    app.router.add_post(f"{KNOWLEDGE}/{{kind:cards|referrals}}/{{item_id}}/installed",
                        installed_post)
