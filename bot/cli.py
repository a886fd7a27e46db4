"""The `vraagbaak` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import sys
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.files import private_umask
from bot.logs import setup_logging
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from knowledge.anonymise import Anonymiser


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"vraagbaak: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.telegram_token is None:
        print("vraagbaak: configuration error: VRAAGBAAK_TELEGRAM_TOKEN is not set "
              "(use `vraagbaak demo` to try the desk without Telegram)", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, [settings.telegram_token.get_secret_value()],
                  settings.log_format)
    from telegram.error import InvalidToken

    from bot import runtime
    from bot.redis_server import EmbeddedRedisInUse

    try:
        with contextlib.suppress(asyncio.CancelledError):  # stopped while starting
            asyncio.run(runtime.run(settings, with_worker=not args.no_worker))
    except InvalidToken:
        print("vraagbaak: Telegram refused VRAAGBAAK_TELEGRAM_TOKEN (check it with @BotFather)",
              file=sys.stderr)
        return 1
    except EmbeddedRedisInUse as exc:
        print(f"vraagbaak: {exc}", file=sys.stderr)
        return 1
    return 0


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sandbox_exposure_refused(args: argparse.Namespace) -> bool:
    """Says why, if the sandbox would listen beyond this machine without --expose-sandbox."""
    if is_loopback(args.host) or args.expose_sandbox:
        return False
    print(f"vraagbaak: refusing to serve the sandbox on {args.host}: its API shows anyone who "
          "can reach it every chat's messages, including dashboard login links. Use "
          "--host 127.0.0.1, or add --expose-sandbox if only people you trust can reach "
          "this address.", file=sys.stderr)
    return True


def cmd_demo(args: argparse.Namespace) -> int:
    if sandbox_exposure_refused(args):
        return 2
    settings = _settings()
    setup_logging(settings.log_level, fmt=settings.log_format)
    from bot import runtime
    from bot.redis_server import EmbeddedRedisInUse

    try:
        asyncio.run(runtime.demo(settings, args.host, args.port,
                                 with_worker=not args.no_worker))
    except asyncio.CancelledError:  # stopped while starting
        pass
    except EmbeddedRedisInUse as exc:
        print(f"vraagbaak: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vraagbaak: cannot start the sandbox on {args.host}:{args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Only the sandbox Telegram server (the bot runs elsewhere with `vraagbaak run`)."""
    if sandbox_exposure_refused(args):
        return 2
    setup_logging("WARNING")
    from bot import runtime

    asyncio.run(runtime.sandbox_only(args.host, args.port, args.token))
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    """JSON lines in, one triage JSON line out per input; loads the knowledge once, from the
    trained snapshot the desk keeps under VRAAGBAAK_DATA_DIR/cache (trained and written there
    when it is missing or stale: about a minute for 600 cards, then a second per start)."""
    from bot.runtime import load_knowledge_now
    from knowledge.base import KnowledgeError

    settings = _settings()
    try:
        _kb, triage = load_knowledge_now(settings.data_dir / "cache")
    except KnowledgeError as exc:
        print(f"vraagbaak: knowledge error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # the training child failed or ran past its time
        print(f"vraagbaak: {exc}", file=sys.stderr)
        return 1
    for line_no, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"]
            lang = item.get("lang")
            if not isinstance(text, str) or (lang is not None and lang not in ("nl", "en")):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            out: dict[str, object] = {"error": f"line {line_no}: expected "
                                      '{"text": str, "lang": "nl"|"en"?}'}
        else:
            out = triage.triage(text, lang).as_json()
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


async def _experts(args: argparse.Namespace, settings: Settings) -> int:
    from bot.redis_server import redis_for_settings
    from bot.sandbox.server import BOT_USERNAME
    from handoff.experts import ExpertStore, NameTaken

    async with redis_for_settings(settings, reuse_running=True) as redis:
        store = ExpertStore(redis)
        if args.action == "invite":
            languages = tuple(x for x in args.languages.split(",") if x in ("nl", "en"))
            if not languages:
                print("vraagbaak: --languages must list nl and/or en", file=sys.stderr)
                return 2
            try:
                code = await store.create_invite(args.name, tuple(args.expertise or ()),
                                                 languages)
            except NameTaken:
                print(f"vraagbaak: an expert named {args.name!r} is already in the pool; "
                      "askers must tell experts apart (try an initial, e.g. "
                      f"{args.name + ' B.'!r})", file=sys.stderr)
                return 2
            username = args.bot or BOT_USERNAME
            print(f"https://t.me/{username}?start=inv_{code}")
            print(f"single use, valid 7 days; in the sandbox send: /start inv_{code}",
                  file=sys.stderr)
        elif args.action == "list":
            for expert in await store.list():
                state = "available" if expert.available else "away"
                print(f"{expert.expert_id}\t{expert.display_name}\t{state}\t"
                      f"{','.join(expert.expertise)}\t{','.join(expert.languages)}")
        else:
            from bot.runtime import handoff_service, knowledge
            from handoff.outbox import Outbox

            service = handoff_service(settings, redis, knowledge()[0])
            result = await service.remove_expert(args.expert_id)
            if result.refused is not None:
                print(f"vraagbaak: no expert with id {args.expert_id}", file=sys.stderr)
                return 1
            # The running bot tells the expert and the askers whose conversations went back.
            await Outbox(redis, service.tickets).put(result.notices)
            print(f"removed {args.expert_id}; {len(result.notices)} notices queued for the bot")
    return 0


def anonymise_lines(stdin: IO[str], stdout: IO[str], anonymiser: Anonymiser) -> None:
    """Read {"text": ...} JSON lines and write {"text": anonymised} or {"error": ...} per line."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            out: dict[str, str] = {"error": f"invalid JSON: {exc.msg}"}
        else:
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                out = {"text": anonymiser.anonymise(record["text"])}
            else:
                out = {"error": 'expected an object with a string field "text"'}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        # Flush per line so a pipe partner sees each answer without waiting for the batch.
        stdout.flush()


def cmd_anonymise(args: argparse.Namespace) -> int:
    """JSON lines {"text"} in, {"text": anonymised} out; the word lists load once (~0.5 s)."""
    from knowledge.anonymise import Anonymiser

    anonymise_lines(sys.stdin, sys.stdout, Anonymiser())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The summariser worker."""
    # It never talks to Telegram, so it does not keep the token (e.g. one read from .env).
    settings = _settings().model_copy(update={"telegram_token": None})
    setup_logging(settings.log_level, fmt=settings.log_format)
    from bot.worker import run_worker

    return asyncio.run(run_worker(settings))


async def _export(args: argparse.Namespace, settings: Settings) -> str:
    from handoff.database import make_engine, migrate
    from handoff.summaries import export_rows, load_rows

    engine = make_engine(settings.sqlalchemy_url)
    try:
        await migrate(engine)
        return export_rows(await load_rows(engine, args.since), args.format)
    finally:
        await engine.dispose()


def cmd_summaries(args: argparse.Namespace) -> int:
    """Print the stored anonymised summaries."""
    settings = _settings()
    sys.stdout.write(asyncio.run(_export(args, settings)))
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-01: {value!r}") from None


def cmd_experts(args: argparse.Namespace) -> int:
    """Manage the expert pool: invite, list, remove."""
    settings = _settings()
    return asyncio.run(_experts(args, settings))


CLI_ACTOR = 0  # the server's operator: no Telegram id is 0


async def _knowledge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.redis_server import redis_for_settings
    from handoff.database import make_engine, migrate
    from handoff.experts import ExpertStore
    from knowledge.base import KnowledgeError, load_knowledge
    from knowledge.editorial import Editorial, Invalid, Refused
    from knowledge.revisions import RevisionStore
    from knowledge.seed import changed, export, read_seed

    engine = make_engine(settings.sqlalchemy_url)
    try:
        await migrate(engine)
        store = RevisionStore(engine)
        overlay = await store.overlay()
        if args.action == "export":
            try:
                files = export(args.directory, overlay)
            except FileExistsError as exc:
                print(f"vraagbaak: {exc}", file=sys.stderr)
                return 1
            print(f"exported {len(overlay.snippets)} edited cards and "
                  f"{len(overlay.referrals)} edited referrals to {args.directory} "
                  f"({len(files)} files changed against the seed)")
            return 0
        try:  # the same validation as at start-up, for the whole file set
            load_knowledge(args.directory)
        except KnowledgeError as exc:
            print(f"vraagbaak: knowledge error: {exc}", file=sys.stderr)
            return 1
        edits = changed(read_seed(), read_seed(args.directory))
        current = load_knowledge(overlay=overlay)
        async with redis_for_settings(settings, reuse_running=True) as redis:
            editorial = Editorial(store, redis, ExpertStore(redis), {CLI_ACTOR})
            outcomes = await editorial.import_items(CLI_ACTOR, edits, current,
                                                    note=f"import {args.directory.name}")
        failed = [o for o in outcomes if isinstance(o, Invalid | Refused)]
        for outcome in failed:
            print(f"vraagbaak: not imported: {outcome}", file=sys.stderr)
        print(f"published {len(outcomes) - len(failed)} changed items; running desks reload "
              "within seconds")
        return 1 if failed else 0
    finally:
        await engine.dispose()


def cmd_knowledge(args: argparse.Namespace) -> int:
    """Export the published knowledge as YAML files, or import such files."""
    return asyncio.run(_knowledge(args, _settings()))


def build_parser() -> argparse.ArgumentParser:
    """All subcommands."""
    parser = argparse.ArgumentParser(prog="vraagbaak", description="Platform JEP's advice desk")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run against Telegram (needs VRAAGBAAK_TELEGRAM_TOKEN)")
    run.add_argument("--no-worker", action="store_true", help="don't start the summariser")
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="run against the local sandbox with a browser chat page")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--expose-sandbox", action="store_true",
                      help="allow a --host other than loopback (the sandbox API serves anyone "
                           "every chat, login links included)")
    demo.add_argument("--no-worker", action="store_true", help="don't start the summariser")
    demo.set_defaults(func=cmd_demo)
    sandbox = sub.add_parser("sandbox", help="serve only the sandbox Telegram API and chat page")
    sandbox.add_argument("--port", type=int, default=8080)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--expose-sandbox", action="store_true",
                         help="allow a --host other than loopback")
    sandbox.add_argument("--token", help="the bot token the sandbox accepts")
    sandbox.set_defaults(func=cmd_sandbox)
    triage = sub.add_parser("triage", help="classify JSON-lines questions from stdin")
    triage.set_defaults(func=cmd_triage)
    anonymise = sub.add_parser("anonymise", help="remove personal data from JSON-lines texts")
    anonymise.set_defaults(func=cmd_anonymise)
    worker = sub.add_parser("worker", help="run the summariser worker")
    worker.set_defaults(func=cmd_worker)
    summaries = sub.add_parser("summaries", help="anonymised conversation summaries")
    summary_actions = summaries.add_subparsers(dest="action", required=True)
    export = summary_actions.add_parser("export", help="print stored summaries")
    export.add_argument("--since", type=_day, help="first closing day, e.g. 2026-11-01")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    summaries.set_defaults(func=cmd_summaries)
    experts = sub.add_parser("experts", help="manage the expert pool")
    actions = experts.add_subparsers(dest="action", required=True)
    invite = actions.add_parser("invite", help="print a single-use invite link")
    invite.add_argument("--name", required=True, help="display name shown to users")
    invite.add_argument("--expertise", nargs="*", help="sectors and topic ids")
    invite.add_argument("--languages", default="nl,en")
    invite.add_argument("--bot", help="the bot's username for the link")
    actions.add_parser("list", help="list experts")
    remove = actions.add_parser("remove", help="remove an expert")
    remove.add_argument("expert_id", type=int)
    experts.set_defaults(func=cmd_experts)
    knowledge = sub.add_parser("knowledge", help="the published knowledge as YAML files")
    knowledge_actions = knowledge.add_subparsers(dest="action", required=True)
    knowledge_export = knowledge_actions.add_parser(
        "export", help="write the seed files with the published edits to a new directory")
    knowledge_export.add_argument("directory", type=Path)
    knowledge_import = knowledge_actions.add_parser(
        "import", help="validate a directory in the same layout and publish what changed")
    knowledge_import.add_argument("directory", type=Path)
    knowledge.set_defaults(func=cmd_knowledge)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    # Before anything touches DATA_DIR: the database, Redis files and keys stay owner-only.
    private_umask()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
