"""The fair peer: a bare python-telegram-bot echo bot with PTB's defaults.

What a developer starts from: `Application.builder().token(...).base_url(...).build()`, one
MessageHandler that echoes the text, `run_polling()`. Run as `python -m bench.echo_bot TOKEN
BASE_URL`; the benchmark starts it as a subprocess next to the desk.
"""

from __future__ import annotations

import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


def main(argv: list[str]) -> int:
    """Build with PTB's defaults and poll until SIGINT/SIGTERM."""
    token, base_url = argv
    app = Application.builder().token(token).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.run_polling()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
