"""structlog set-up: one JSON object per line, request ids bound via contextvars."""

from __future__ import annotations

import logging
import sys

import structlog


def setup_logging(service: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """Configure structlog (and stdlib logging) to print JSON lines on stderr."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    log: structlog.stdlib.BoundLogger = structlog.get_logger()
    return log


def bind_request(accept_seqno: str | None = None, req_seqno: str | None = None) -> None:
    """Bind the protocol's request ids to every log line of the current task."""
    values = {k: v for k, v in (("accept_seqno", accept_seqno), ("req_seqno", req_seqno)) if v}
    structlog.contextvars.bind_contextvars(**values)


def clear_request() -> None:
    structlog.contextvars.unbind_contextvars("accept_seqno", "req_seqno")
