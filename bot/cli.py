"""The `vraagbaak` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bot.logs import setup_logging
from bot.settings import ConfigError, Settings, load_settings


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
    setup_logging(settings.log_level)
    from bot import runtime

    asyncio.run(runtime.run(settings))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    setup_logging(settings.log_level)
    from bot import runtime

    try:
        asyncio.run(runtime.demo(settings, args.host, args.port))
    except OSError as exc:
        print(f"vraagbaak: cannot start the sandbox on {args.host}:{args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    """JSON lines in, one triage JSON line out per input; loads the knowledge once."""
    from knowledge.base import KnowledgeError, load_knowledge
    from knowledge.triage import Triage

    try:
        triage = Triage(load_knowledge())
    except KnowledgeError as exc:
        print(f"vraagbaak: knowledge error: {exc}", file=sys.stderr)
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


def build_parser() -> argparse.ArgumentParser:
    """All subcommands."""
    parser = argparse.ArgumentParser(prog="vraagbaak", description="Platform JEP's advice desk")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run against Telegram (needs VRAAGBAAK_TELEGRAM_TOKEN)")
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="run against the local sandbox with a browser chat page")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    demo.set_defaults(func=cmd_demo)
    triage = sub.add_parser("triage", help="classify JSON-lines questions from stdin")
    triage.set_defaults(func=cmd_triage)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
