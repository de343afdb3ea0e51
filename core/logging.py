"""Logging set-up shared by every process: plain lines for people, JSON lines for collectors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from core.config import Settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Chatty at INFO for what we do: one line per HTTP call, per Alembic plugin loaded.
    for name in ("httpx", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)
