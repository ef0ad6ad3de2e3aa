"""Tests of simreg.logs: JSON lines, request ids, and the redaction of ID
numbers, phone numbers and MRZ lines everywhere in a record."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from simreg.logs import (
    RedactingFilter,
    configure_logging,
    redact,
    reset_request_id,
    set_request_id,
)

ID18 = "11010519491231002X"
ID18_MASKED = "110***********002X"
MOBILE = "13812345678"
MOBILE_MASKED = "138****5678"
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")   # ICAO 9303 specimen
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<",
       "7408122F1204159UTO<<<<<<<<<<<6",
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
       "D231458907UTO7408122F1204159<<<<<<<6")


@pytest.fixture
def capture():
    """configure_logging() writing to a buffer; yields a function returning the
    parsed JSON lines.  The root logger is restored afterwards."""
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    buf = io.StringIO()
    handler = configure_logging("DEBUG", stream=buf)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buf.getvalue().splitlines()]

    lines.buffer = buf  # type: ignore[attr-defined]
    yield lines
    root.removeHandler(handler)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


# ----------------------------------------------------------------------------- redact(): positives


@pytest.mark.parametrize("text,expected", [
    # 18-digit resident ID numbers
    (ID18, ID18_MASKED),
    ("11010519491231002x", ID18_MASKED),
    ("id=440524188001010014;", "id=440***********0014;"),
    ("holder 110105194912310029 registered", "holder 110***********0029 registered"),
    ("110105 19491231 002X", ID18_MASKED),
    ("110105-19491231-002X", ID18_MASKED),
    ("身份证号11010519491231002X，已核验", "身份证号110***********002X，已核验"),
    ('{"id_number": "11010519491231002X"}', '{"id_number": "110***********002X"}'),
    ("a typo'd 110105194912310020 is still personal", "a typo'd 110***********0020 is still personal"),
    # full-width forms
    ("１１０１０５１９４９１２３１００２Ｘ", ID18_MASKED),
    ("１１０１０５１９４９１２３１００２ｘ", ID18_MASKED),
    ("号码：１１０１０５194912310０２X。", "号码：110***********002X。"),
    # legacy 15-digit IDs
    ("110105491231002", "110*********002"),
    ("old id: 440524800101001 ok", "old id: 440*********001 ok"),
    # mainland mobiles
    (MOBILE, MOBILE_MASKED),
    ("call 13812345678.", "call 138****5678."),
    ("138 1234 5678", MOBILE_MASKED),
    ("138-1234-5678", MOBILE_MASKED),
    ("+8613812345678", "+86138****5678"),
    ("+86 138 1234 5678", "+86 138****5678"),
    ("+86-138-1234-5678", "+86-138****5678"),
    ("8613812345678", "86138****5678"),
    ("008613812345678", "0086138****5678"),
    ("(+86)13812345678", "(+86)138****5678"),
    ("手机13912345678已登记", "手机139****5678已登记"),
    ("phone_19987654321_x", "phone_199****4321_x"),
    ("１３８１２３４５６７８", MOBILE_MASKED),
    ("＋８６ １３８ １２３４ ５６７８", "+86 138****5678"),
    ("tel:17012345678,15012345678", "tel:170****5678,150****5678"),
    # E.164 numbers from elsewhere
    ("+442079460958", "+44********58"),
    ("+44 20 7946 0958", "+44********58"),
    ("+1 (202) 555-0143", "+12*******43"),
    ("+1-202-555-0143", "+12*******43"),
    ("+85291234567", "+85*******67"),
    # MRZ lines
    (TD3[0], "[MRZ]"),
    (TD3[1], "[MRZ]"),
    ("\n".join(TD3), "[MRZ]\n[MRZ]"),
    ("mrz=" + TD3[0] + " " + TD3[1], "mrz=[MRZ] [MRZ]"),
    ("".join(TD3), "[MRZ]"),
    ("\n".join(TD1), "[MRZ]\n[MRZ]\n[MRZ]"),
    ("\n".join(TD2), "[MRZ]\n[MRZ]"),
    # a TD3 line 2 with no filler at all, recognised by its check digits
    ("L898902C36UTO7408122F1204159ZE18422612345610", "[MRZ]"),
])
def test_redacts(text, expected):
    assert redact(text) == expected


def test_several_kinds_in_one_message():
    text = f"id {ID18} phone {MOBILE} mrz {TD3[1]} port 8443"
    assert redact(text) == f"id {ID18_MASKED} phone {MOBILE_MASKED} mrz [MRZ] port 8443"


def test_redaction_is_idempotent():
    for text in (ID18, MOBILE, "+44 20 7946 0958", TD3[0], "110105491231002"):
        once = redact(text)
        assert redact(once) == once


# ----------------------------------------------------------------------------- redact(): negatives


@pytest.mark.parametrize("text", [
    "request 3fa9e1c2b7d84f0e9a6b5c4d3e2f1a0b done",
    "request 8d2c13812345678a0b1c2d3e4f5a6b7c",           # hex id with a mobile-like run inside
    "rid=deadbeef11010519491231002Xcafe",                 # glued to letters: not an ID field
    "uuid 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "epoch 1732851250 ms 1732851250123 us 1732851250123456 ns 1732851250123456789",
    "2026-11-29T04:34:10.123Z and 2026-11-29 04:34:10,123 +08:00 +0800",
    "listening on 0.0.0.0:8443 and 127.0.0.1:13812",
    "took 13812345678ns", "took 1381ms", "elapsed=12.5s",
    "score 0.13812345678 and 0.11010519491231002",
    "13812345678.25 is a float",
    "value 12345678901",                                   # 11 digits, not 1[3-9]
    "value 10012345678",
    "count 123456789012345678",                            # 18 digits, no birth date in it
    "count 110105199913310021",                            # month 13
    "count 110105199912320021",                            # day 32
    "snowflake 1462345678901234567",
    "version 2.13.1 build 20261129",
    "sha1 DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123",                      # 30 chars, no filler, no check digits
    "L898902C36UTO7408123F1204150ZE18422612345610",        # 44 chars, wrong check digits
    "<<<>>> a<b",
    "+1234567",                                            # too short for E.164
    "tz +08:00, offset +0530",
    "x" * 200,
    "",
])
def test_leaves_ordinary_text_alone(text):
    assert redact(text) == text


def test_non_text_is_returned_unchanged():
    assert redact(None) is None  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the filter


def _record(msg, args=(), exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("simreg.test", logging.INFO, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_the_filter_redacts_the_message_and_its_args():
    record = _record("registered %s for %s", (MOBILE, ID18))
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"registered {MOBILE_MASKED} for {ID18_MASKED}"
    assert record.args is None


def test_the_filter_redacts_dict_args():
    record = _record("phone %(phone)s", ({"phone": MOBILE},))
    RedactingFilter().filter(record)
    assert record.getMessage() == f"phone {MOBILE_MASKED}"


def test_the_filter_redacts_extras_deeply_and_drops_bytes():
    record = _record("x", phone=MOBILE, nested={"ids": [ID18, "ok"], MOBILE: 1},
                     phone_int=13812345678, port=8443, image=b"\xff\xd8\xff\xe0" + b"\0" * 100,
                     score=0.5, flag=True, nothing=None)
    RedactingFilter().filter(record)
    assert record.phone == MOBILE_MASKED
    assert record.nested == {"ids": [ID18_MASKED, "ok"], MOBILE_MASKED: 1}
    assert record.phone_int == MOBILE_MASKED
    assert record.port == 8443 and record.score == 0.5 and record.flag is True and record.nothing is None
    assert record.image == "[104 bytes]"


def test_the_filter_redacts_objects_by_their_text():
    class Holder:
        def __str__(self):
            return f"Holder({ID18})"

    record = _record("%s", (Holder(),), holder=Holder())
    RedactingFilter().filter(record)
    assert record.getMessage() == f"Holder({ID18_MASKED})"
    assert record.holder == f"Holder({ID18_MASKED})"


def test_the_filter_survives_bad_format_args():
    record = _record("%d phones", ("not a number", MOBILE))
    assert RedactingFilter().filter(record) is True
    assert MOBILE not in record.getMessage()


def test_the_filter_redacts_exception_text_and_drops_exc_info():
    try:
        raise ValueError(f"bad ID number {ID18} for {MOBILE}")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    RedactingFilter().filter(record)
    assert record.exc_info is None
    assert "Traceback" in record.exc_text and "ValueError" in record.exc_text
    assert ID18 not in record.exc_text and MOBILE not in record.exc_text
    assert ID18_MASKED in record.exc_text
    assert ID18 not in logging.Formatter().format(record)


# ----------------------------------------------------------------------------- configure_logging


def test_each_record_is_one_json_object_per_line(capture):
    log = logging.getLogger("simreg.test.lines")
    log.info("first")
    log.warning("second\nwith a newline")
    first, second = capture()
    assert capture.buffer.getvalue().count("\n") == 2
    assert first["message"] == "first" and first["level"] == "INFO"
    assert first["logger"] == "simreg.test.lines"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["message"] == "second\nwith a newline" and second["level"] == "WARNING"
    assert "request_id" not in first


def test_extras_and_request_id_become_fields(capture):
    log = logging.getLogger("simreg.test.extra")
    log.info("decided", extra={"request_id": "6f1c0c8e2b8e4b1f", "outcome": "APPROVE",
                               "scores": {"match": 0.91}, "ms": 123})
    (line,) = capture()
    assert line["request_id"] == "6f1c0c8e2b8e4b1f"
    assert line["outcome"] == "APPROVE" and line["scores"] == {"match": 0.91} and line["ms"] == 123


def test_the_request_id_can_come_from_the_context(capture):
    log = logging.getLogger("simreg.test.ctx")
    token = set_request_id("abc123")
    try:
        log.info("inside")
        log.info("explicit wins", extra={"request_id": "def456"})
    finally:
        reset_request_id(token)
    log.info("outside")
    inside, explicit, outside = capture()
    assert inside["request_id"] == "abc123"
    assert explicit["request_id"] == "def456"
    assert "request_id" not in outside


def test_an_extra_cannot_overwrite_the_fixed_fields(capture):
    logging.getLogger("simreg.test.clash").info("real", extra={"level": "fake", "time": "fake"})
    (line,) = capture()
    assert line["level"] == "INFO" and line["extra_level"] == "fake" and line["extra_time"] == "fake"


def test_logged_json_is_redacted_everywhere(capture):
    log = logging.getLogger("simreg.test.redact")
    log.info("registration for %s, phone %s", ID18, "+86 138 1234 5678",
             extra={"phone": MOBILE, "mrz": list(TD3), "request_id": "3fa9e1c2b7d84f0e"})
    text = capture.buffer.getvalue()
    assert ID18 not in text and MOBILE not in text and "1234 5678" not in text
    assert TD3[0] not in text and TD3[1] not in text
    (line,) = capture()
    assert line["message"] == f"registration for {ID18_MASKED}, phone +86 {MOBILE_MASKED}"
    assert line["phone"] == MOBILE_MASKED and line["mrz"] == ["[MRZ]", "[MRZ]"]
    assert line["request_id"] == "3fa9e1c2b7d84f0e"


def test_an_exception_traceback_is_redacted_in_the_output(capture):
    log = logging.getLogger("simreg.test.exc")

    def lookup(number):
        raise KeyError(f"no registration for {number}")

    try:
        lookup(ID18)
    except KeyError:
        log.exception("lookup failed for %s", MOBILE)
    text = capture.buffer.getvalue()
    assert ID18 not in text and MOBILE not in text
    (line,) = capture()
    assert line["message"] == f"lookup failed for {MOBILE_MASKED}"
    assert "Traceback (most recent call last)" in line["exception"]
    assert f"KeyError: 'no registration for {ID18_MASKED}'" in line["exception"]
    assert "lookup(ID18)" in line["exception"]          # source lines stay readable


def test_stack_info_is_redacted(capture):
    logging.getLogger("simreg.test.stack").info("here %s", MOBILE, stack_info=True)
    (line,) = capture()
    assert "Stack (most recent call last)" in line["stack"]
    assert MOBILE not in capture.buffer.getvalue()


def test_chinese_text_stays_readable(capture):
    logging.getLogger("simreg.test.zh").info("已登记手机号%s", MOBILE)
    assert "已登记手机号138****5678" in capture.buffer.getvalue()


def test_non_finite_floats_and_odd_objects_still_give_valid_json(capture):
    logging.getLogger("simreg.test.odd").info("x", extra={"nan": float("nan"), "obj": object(),
                                                           "tup": (1, 2)})
    (line,) = capture()
    assert line["nan"] == "nan" and line["obj"].startswith("<object") and line["tup"] == [1, 2]


def test_configuring_twice_replaces_the_handler_and_honours_the_level(capture):
    root = logging.getLogger()
    buf = io.StringIO()
    handler = configure_logging("warning", stream=buf)
    ours = [h for h in root.handlers if getattr(h, "_simreg_handler", False)]
    assert ours == [handler]
    logging.getLogger("simreg.test.level").info("hidden")
    logging.getLogger("simreg.test.level").warning("shown %s", MOBILE)
    assert capture() == []
    (line,) = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert line["message"] == f"shown {MOBILE_MASKED}"
    assert any(isinstance(f, RedactingFilter) for f in handler.filters)


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError):
        configure_logging("LOUD", stream=io.StringIO())


def test_text_mode_is_redacted_too(capture):
    root = logging.getLogger()
    buf = io.StringIO()
    configure_logging("INFO", json=False, stream=buf)
    token = set_request_id("r1")
    try:
        try:
            raise RuntimeError(ID18)
        except RuntimeError:
            logging.getLogger("simreg.test.text").exception("phone %s", MOBILE, extra={"id": ID18})
    finally:
        reset_request_id(token)
    text = buf.getvalue()
    assert f"ERROR simreg.test.text [r1] phone {MOBILE_MASKED}" in text
    assert f"phone {MOBILE_MASKED}" in text and f"id={ID18_MASKED}" in text
    assert ID18 not in text and MOBILE not in text
    assert "RuntimeError" in text
    assert root.level == logging.INFO
