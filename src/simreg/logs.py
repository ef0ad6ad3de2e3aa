"""Logging, configured once: one JSON object per line, personal numbers redacted.

``configure_logging()`` puts one handler on the root logger.  Its
:class:`RedactingFilter` rewrites every record that reaches it, in the message,
its args, ``extra`` fields, the exception text and the stack text:

=================================  ======================================  =======================
what                               examples                                becomes
=================================  ======================================  =======================
resident ID number (GB 11643)      ``11010519491231002X``, ``110105 19491231 002x``,  ``110***********002X``
                                   full-width ``１１０１…２Ｘ``
legacy 15-digit resident ID        ``110105491231002``                     ``110*********002``
mainland mobile                    ``13812345678``, ``138-1234-5678``,     ``138****5678``
                                   ``+86 138 1234 5678``, ``008613812345678``  (prefix kept)
E.164 phone number                 ``+44 20 7946 0958``, ``+1 (202) 555-0143``  ``+44********58``
MRZ line (TD1/TD2/TD3)             ``P<UTOERIKSSON<<ANNA<MARIA<<<…``       ``[MRZ]``
=================================  ======================================  =======================

Full-width digits, letters, ``＋``, ``－`` and the ideographic space are folded
before matching, so they are caught too.

What it deliberately leaves alone: numbers glued to ASCII letters (hex request
ids such as ``3fa9e1c213812345678b``, ``13812345678ms``), decimal fractions
(``0.13812345678``), and digit runs of other lengths (epoch seconds and
milliseconds, nanosecond timestamps, ports, durations).  An ID number needs a
plausible birth date (``18``/``19``/``20`` + month + day) to be recognised, so
other 18-digit numbers pass.  A 44/36/30-character run of ``[A-Z0-9<]`` is an
MRZ line when it holds a ``<`` filler, or, without one, when its date check
digits verify (ICAO 9303).

This is a net for mistakes, not a licence: code should not log personal data
in the first place.  It does not catch names, addresses, or numbers written
with unusual separators.
"""

from __future__ import annotations

import contextvars
import json as _json
import logging
import math
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from .domain.pii import redact

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "TextFormatter",
    "configure_logging",
    "redact",
    "request_id_var",
    "reset_request_id",
    "set_request_id",
]

# --------------------------------------------------------------------------- request id

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "simreg_request_id", default=None)


def set_request_id(request_id: str | None) -> contextvars.Token:
    """Make ``request_id`` appear on every record logged in this context (task
    or thread) until :func:`reset_request_id`.  A ``request_id`` passed in
    ``extra`` wins over it."""
    return request_id_var.set(request_id)


def reset_request_id(token: contextvars.Token) -> None:
    request_id_var.reset(token)


# --------------------------------------------------------------------------- redaction
# the detector and masks live in domain/pii.py (the audit log's guard uses them too)

def _redact_value(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly, redacted copy of an ``extra`` value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int):
        text = str(value)
        return value if redact(text) == text else redact(text)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"[{len(value)} bytes]"       # never images, templates or keys in logs
    if depth < 4 and isinstance(value, dict):
        return {redact(str(k)): _redact_value(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(v, depth + 1) for v in value]
    try:
        return redact(str(value))
    except Exception:  # a broken __str__ must not break logging
        return f"[unprintable {type(value).__name__}]"


_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName"}


# Extras not written as fields: the request id has its own, and uvicorn's
# ANSI-coloured copy of its message is noise in JSON.
_NOT_FIELDS = frozenset({"request_id", "color_message"})


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


class RedactingFilter(logging.Filter):
    """Masks personal numbers in a record before any formatter sees it.

    The message is formatted with its args and then redacted (``args`` becomes
    ``None``); every ``extra`` field is redacted (non-JSON values become
    strings, bytes become ``"[N bytes]"``); the exception is formatted into
    ``exc_text``, redacted, and ``exc_info`` dropped, so no later handler can
    re-render the raw traceback.  Always returns True (it never drops records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep the template rather than lose the record
            message = f"{record.msg!s} [unformattable args]"
        record.msg = redact(message)
        record.args = None
        for key, value in _extras(record).items():
            record.__dict__[key] = _redact_value(value)
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# --------------------------------------------------------------------------- formatters


def _timestamp(record: logging.LogRecord) -> str:
    t = datetime.fromtimestamp(record.created, tz=UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_id(record: logging.LogRecord) -> str | None:
    rid = record.__dict__.get("request_id")
    return rid if rid is not None else request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO-8601 UTC, ms), ``level``,
    ``logger``, ``message``, ``request_id`` (if any), every ``extra`` field,
    ``exception`` and ``stack`` (if any).  An extra whose name clashes with
    one of these is written as ``extra_<name>``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname,
                               "logger": record.name, "message": record.getMessage()}
        rid = _request_id(record)
        if rid is not None:
            doc["request_id"] = rid
        for key, value in _extras(record).items():
            if key in _NOT_FIELDS:
                continue
            doc["extra_" + key if key in doc or key in ("exception", "stack") else key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        try:
            return _json.dumps(doc, ensure_ascii=False, allow_nan=False,
                               default=lambda o: redact(str(o)))
        except ValueError:  # NaN/Infinity in an unfiltered extra
            return _json.dumps(_redact_value(doc), ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request_id] message key=value ...`` for humans."""

    def format(self, record: logging.LogRecord) -> str:
        rid = _request_id(record)
        parts = [_timestamp(record), record.levelname, record.name]
        if rid is not None:
            parts.append(f"[{rid}]")
        parts.append(record.getMessage())
        parts += [f"{k}={v}" for k, v in _extras(record).items() if k not in _NOT_FIELDS]
        line = " ".join(str(p) for p in parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


# --------------------------------------------------------------------------- set-up


def configure_logging(level: str | int = "INFO", json: bool = True, *,
                      stream: TextIO | None = None) -> logging.Handler:
    """Install simreg's handler on the root logger and return it.

    One line per record on ``stream`` (default ``sys.stderr``), JSON or text,
    with a :class:`RedactingFilter` on the handler.  Calling it again replaces
    the handler it installed before (never duplicates it) and leaves other
    handlers alone.  ``level`` is a name (``"info"`` works) or a number;
    ``ValueError`` for an unknown name."""
    if isinstance(level, str):
        numeric = logging.getLevelName(level.strip().upper())
        if not isinstance(numeric, int):
            raise ValueError(f"unknown log level {level!r}")
        level = numeric
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_simreg_handler", False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._simreg_handler = True  # type: ignore[attr-defined]  # our mark, to find our handler again
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
