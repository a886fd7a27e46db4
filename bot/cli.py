"""The `vraagbaak` command line."""

from __future__ import annotations

import argparse
import asyncio
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
