"""Personal numbers in free text: ID numbers, phone numbers, MRZ lines.  Pure.

One detector for everything that must not carry them: the log formatter masks
them (:mod:`simreg.logs`), the audit log refuses entries that hold them
(:func:`simreg.domain.audit.new_entry`).

What is found and how it is masked:

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

import re

# Length-preserving fold (one code point to one code point) so that match
# positions in the folded text are positions in the original.
_FOLD: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}   # full-width ASCII forms
_FOLD.update({0x3000: " ", 0x00A0: " "})                     # ideographic / no-break space
_DIGITS = "0123456789"

_B = r"(?<![0-9A-Za-z])(?<![0-9]\.)"      # not glued to a letter or digit, not a decimal fraction
_A = r"(?![0-9A-Za-z])(?!\.[0-9])"
_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"

_ID18 = re.compile(_B + r"[0-9]{6}[ \-]?" + _DATE8 + r"[ \-]?[0-9]{3}[0-9Xx]" + _A)
_ID15 = re.compile(_B + r"[0-9]{6}" + _DATE6 + r"[0-9]{3}" + _A)
_MOBILE = re.compile(_B + r"(?P<prefix>(?:\+|00)?86[ \-]?|\(\+?86\)[ \-]?)?"
                     r"(?P<number>1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4})" + _A)
_E164 = re.compile(r"(?<![0-9A-Za-z+])\+[1-9](?:[ \-]?\(?[0-9]\)?){6,14}" + _A)
_MRZ = re.compile(r"(?<![A-Za-z0-9<])[A-Z0-9<]{30,90}(?![A-Za-z0-9<])")
_MRZ_LINE_LENGTHS = {30, 36, 44}
_MRZ_JOINED_LENGTHS = {60, 72, 88, 90}   # a whole MRZ written as one run


def _digits_only(text: str) -> str:
    return "".join(c for c in text if c in _DIGITS or c in "Xx").upper()


def _mask_id(m: re.Match) -> str:
    d = _digits_only(m.group(0))
    return d[:3] + "*" * (len(d) - 7) + d[-4:] if len(d) == 18 else d[:3] + "*" * (len(d) - 6) + d[-3:]


def _mask_mobile(m: re.Match) -> str:
    d = _digits_only(m.group("number"))
    return (m.group("prefix") or "") + d[:3] + "****" + d[-4:]


def _mask_e164(m: re.Match) -> str | None:
    d = _digits_only(m.group(0))
    if not 8 <= len(d) <= 15:
        return None
    return "+" + d[:2] + "*" * (len(d) - 4) + d[-2:]


def _mrz_check(field: str) -> str:
    total = 0
    for i, c in enumerate(field):
        v = int(c) if c.isdigit() else (ord(c) - 55 if "A" <= c <= "Z" else 0)
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


def _checks(line: str, *fields: tuple[int, int]) -> bool:
    return all(line[a:b].isdigit() and _mrz_check(line[a:b]) == line[b] for a, b in fields)


def _mask_mrz(m: re.Match) -> str | None:
    line = m.group(0)
    n = len(line)
    if n not in _MRZ_LINE_LENGTHS and n not in _MRZ_JOINED_LENGTHS:
        return None
    if "<" in line:
        return "[MRZ]"
    if n in _MRZ_JOINED_LENGTHS:
        return None
    # A line without any filler: accept it only if its date check digits verify.
    if n in (44, 36) and _checks(line, (13, 19), (21, 27)):      # TD3 / TD2 line 2
        return "[MRZ]"
    if n == 30 and _checks(line, (0, 6), (8, 14)):                # TD1 line 2
        return "[MRZ]"
    return None


# Order matters: MRZ lines first (they hold dates and numbers), then the
# 18-digit ID before the mobile and legacy ID patterns.
_RULES = ((_MRZ, _mask_mrz), (_ID18, _mask_id), (_MOBILE, _mask_mobile),
          (_ID15, _mask_id), (_E164, _mask_e164))


def _apply(pattern: re.Pattern, repl, text: str, folded: str) -> tuple[str, str]:
    out_text, out_folded, pos, changed = [], [], 0, False
    for m in pattern.finditer(folded):
        new = repl(m)
        if new is None:
            continue
        out_text += [text[pos:m.start()], new]
        out_folded += [folded[pos:m.start()], new]
        pos, changed = m.end(), True
    if not changed:
        return text, folded
    out_text.append(text[pos:])
    out_folded.append(folded[pos:])
    return "".join(out_text), "".join(out_folded)


def redact(text: str) -> str:
    """``text`` with ID numbers, phone numbers and MRZ lines masked (see the
    module docstring).  Idempotent."""
    if not isinstance(text, str) or not text:
        return text
    folded = text.translate(_FOLD)
    if "<" not in folded and sum(map(folded.count, _DIGITS)) < 8:
        return text          # too few digits for anything we mask (fast path)
    for pattern, repl in _RULES:
        text, folded = _apply(pattern, repl, text, folded)
    return text




def contains_personal_number(text: str) -> bool:
    """Whether :func:`redact` would mask anything in ``text``."""
    return isinstance(text, str) and redact(text) != text
