"""Identity documents: is the document the clerk typed in or scanned acceptable?

Pure domain logic: no I/O, no framework imports, no clock.  Every function that
depends on the date takes ``today``.  One entry point, :func:`validate_document`,
returns an :class:`IdDocument` or raises :class:`IdDocumentError` (an
``InputError``, HTTP 422) whose ``code`` is an :class:`IdReason`; the HTTP layer
sends ``exc.code.value`` (e.g. ``"ID.CHECKSUM"``).

Documents
---------
* ``cn_resident_id``: PRC resident identity card (居民身份证), GB 11643-1999:
  6-digit GB/T 2260 address code, 8-digit birth date, 3-digit sequence (odd =
  male, even = female), ISO 7064 MOD 11-2 check character.  Address codes of
  abolished divisions stay valid (:mod:`simreg.domain.regions_gbt2260`, a table
  generated from python-stdnum 2.2 by ``scripts/gen_regions.py`` and shipped as
  package data, read once on first use).
* ``cn_hmt_residence_permit``: residence permit for Hong Kong, Macao and Taiwan
  residents (港澳台居民居住证, since 2018-09-01): the same 18-character structure
  with address code 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan).
* ``hk_macao_travel_permit``: Mainland Travel Permit for Hong Kong and Macao
  Residents (港澳居民来往内地通行证): ``H``/``M`` + 8-digit lifetime number,
  optionally followed by the 2-digit renewal count.  No public check digit.
* ``taiwan_travel_permit``: Mainland Travel Permit for Taiwan Residents
  (台湾居民来往大陆通行证): the 8-digit lifetime number.  No public check digit.
* ``passport`` / ``travel_document``: any ICAO Doc 9303 machine-readable travel
  document, read from its MRZ (TD3 2x44, TD2 2x36, TD1 3x30).  ``passport`` needs
  a document code starting with ``P``; ``travel_document`` one starting with
  ``I``, ``A`` or ``C`` (identity cards and official travel documents).  Visas
  (``V``) are not identity documents and are refused.

Conventions
-----------
* Dates are ``datetime.date`` (never ``datetime``): ``today`` is the date at the
  counter, passed in by the caller.
* ``expiry`` is the **last day of validity** (how both ICAO 9303 and the PRC card
  print it): a document is expired when ``expiry < today``.  ``expiry is None``
  together with ``long_term=True`` means 长期 (no end date).
* Ages are whole years completed at ``today``; someone born on 29 February
  completes a year on 1 March in common years.  ``min_age`` is inclusive.
* Numbers are normalised to upper-case ASCII with all whitespace removed;
  full-width forms (``０``-``９``, ``Ｘ``, ``ｘ``) are accepted.
* Sex: ``M``/``F``; ``X`` for an MRZ that leaves it unspecified.
* Messages never echo a full document number; ``IdDocument``'s ``repr`` masks it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import Enum

from .errors import InputError
from .reasons import IdReason  # the codes live with the others (one enum family)
from .regions_gbt2260 import divisions

DEFAULT_MIN_AGE = 16
DEFAULT_MAX_NAME_LENGTH = 64  # Unicode code points after NFC


class IdDocumentError(InputError):
    """The document fails validation (422).  ``code`` is an :class:`IdReason`;
    ``code.value`` is the stable string the HTTP layer returns."""

    def __init__(self, code: IdReason, message: str):
        super().__init__(code, message)


class DocumentKind(str, Enum):
    CN_RESIDENT_ID = "cn_resident_id"
    CN_HMT_RESIDENCE_PERMIT = "cn_hmt_residence_permit"
    HK_MACAO_TRAVEL_PERMIT = "hk_macao_travel_permit"
    TAIWAN_TRAVEL_PERMIT = "taiwan_travel_permit"
    PASSPORT = "passport"
    TRAVEL_DOCUMENT = "travel_document"


class Sex(str, Enum):
    MALE = "M"
    FEMALE = "F"
    UNSPECIFIED = "X"


#: Pass as ``expiry`` for a card valid without end date (长期).  The strings
#: ``"长期"``, ``"long-term"`` and ``"long_term"`` are accepted too.
LONG_TERM = "long_term"

_MRZ_KINDS = (DocumentKind.PASSPORT, DocumentKind.TRAVEL_DOCUMENT)


@dataclass(frozen=True, repr=False)
class IdDocument:
    """A validated identity document.

    ``number`` is the normalised document number.  ``holder_key`` is the part of
    it that stays the same for one holder across renewals (the HK/Macao permit's
    renewal count is dropped; a passport is keyed by issuing state and number, as
    its number changes on renewal): index quota and registry on it.
    ``region_code``/``region_name`` are the GB/T 2260 address code and its name
    where the document has one (the name in use in the holder's birth year when
    the code was renamed).  ``issuing_state`` and ``nationality`` are ICAO 9303
    codes without filler (``"D"`` for Germany).
    """

    kind: DocumentKind
    number: str
    holder_key: str
    birth_date: date
    sex: Sex | None
    expiry: date | None
    long_term: bool = False
    region_code: str | None = None
    region_name: str | None = None
    issuing_state: str | None = None
    nationality: str | None = None
    document_code: str | None = None
    mrz_format: str | None = None
    name: str | None = None

    def age_on(self, day: date) -> int:
        """Whole years completed on ``day``."""
        return age_on(self.birth_date, day)

    def __repr__(self) -> str:  # never leak a full number or a name into logs
        return (f"IdDocument(kind={self.kind.value}, number={mask_number(self.number)!r}, "
                f"sex={self.sex.value if self.sex else None}, expiry={self.expiry}, "
                f"long_term={self.long_term}, region_code={self.region_code}, "
                f"issuing_state={self.issuing_state}, mrz_format={self.mrz_format})")


@dataclass(frozen=True, repr=False)
class MrzData:
    """The fields of an ICAO 9303 MRZ whose check digits all passed.

    Dates carry the century chosen as described in :func:`parse_mrz`.  Codes and
    numbers have their ``<`` filler removed; names have ``<`` turned into spaces.
    """

    format: str  # "TD1" | "TD2" | "TD3"
    document_code: str
    issuing_state: str
    document_number: str
    nationality: str
    birth_date: date
    sex: Sex
    expiry: date
    surname: str
    given_names: str
    optional_data: str

    def __repr__(self) -> str:  # as IdDocument: no full number, no name, in logs
        return (f"MrzData(format={self.format}, document_code={self.document_code}, "
                f"issuing_state={self.issuing_state}, "
                f"document_number={mask_number(self.document_number)!r}, expiry={self.expiry})")


def _fail(code: IdReason, message: str) -> IdDocumentError:
    return IdDocumentError(code, message)


# --------------------------------------------------------------------------- normalisation

# Full-width ASCII forms U+FF01..U+FF5E -> U+0021..U+007E (０-９, Ｘ, ｘ, ...).
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_WHITESPACE = re.compile(r"\s+")


def normalise_number(text: str) -> str:
    """Upper-case ASCII, full-width forms folded, all whitespace (and zero-width
    characters) removed: ``" 11010519４９１２３１００２ｘ "`` -> ``"11010519491231002X"``."""
    if not isinstance(text, str):
        raise _fail(IdReason.FORMAT, "document number must be text")
    folded = text.translate(_FULLWIDTH).translate(_INVISIBLE)
    return _WHITESPACE.sub("", folded).upper()


def mask_number(number: str) -> str:
    """Keep the first 4 and last 2 characters of a number for logs and reprs."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]


# Digits are ASCII 0-9 only (re.ASCII, isascii): other scripts' digits would give
# one holder a second spelling, a second blind index, and a way round the quota.

# --------------------------------------------------------------------------- GB 11643 numbers

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID18 = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_HMT_REGIONS = {"810000": "香港特别行政区", "820000": "澳门特别行政区", "830000": "台湾地区"}
_NOT_RESIDENT_ID_PREFIXES = ("71", "81", "82", "83")
_PLACEHOLDER_NAMES = ("市辖区", "县")


def resident_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits (GB 11643)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade_legacy_resident_id(number15: str) -> str:
    """The 18-character number a 15-digit first-generation number became
    (insert century ``19``, append the check character).

    Not used by :func:`validate_document`, which refuses 15-digit numbers (see
    ``docs/design/id-documents.md``); kept for migrating old records.
    """
    n = normalise_number(number15)
    if len(n) != 15 or not (n.isascii() and n.isdigit()):
        raise ValueError("need exactly 15 digits")
    first17 = n[:6] + "19" + n[6:]
    return first17 + resident_id_check_char(first17)


def _period_name(periods: tuple[tuple[str, int | None, int | None], ...], year: int) -> str:
    for name, start, end in periods:
        if (start is None or start <= year) and (end is None or year <= end):
            return name
    return periods[-1][0]


def region_name(code: str, year: int | None = None) -> str | None:
    """Name of a GB/T 2260 code (province + prefecture + county), or None when the
    code is unknown.  ``year`` picks the name in use then when a code was renamed
    (default: the latest name)."""
    table = divisions()
    periods = table.get(code)
    if periods is None:
        return None
    y = 9999 if year is None else year
    province, prefecture = code[:2] + "0000", code[:4] + "00"
    parts = []
    if province in table:
        parts.append(_period_name(table[province], y))
    if prefecture not in (province, code) and prefecture in table:
        pname = _period_name(table[prefecture], y)
        if pname not in _PLACEHOLDER_NAMES and "直辖" not in pname:
            parts.append(pname)
    if code != province:
        parts.append(_period_name(periods, y))
    return "".join(parts)


def is_abolished_region(code: str) -> bool:
    """True when the code is known but no longer in use (its last period ended)."""
    periods = divisions().get(code)
    return periods is not None and periods[-1][2] is not None


def _check_gb11643(number: str) -> None:
    if not _ID18.match(number):
        raise _fail(IdReason.FORMAT, "expected 17 digits followed by a digit or X")
    if resident_id_check_char(number[:17]) != number[17]:
        raise _fail(IdReason.CHECKSUM, "check character does not match (typing error?)")


def _birth_date_from_digits(digits: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise _fail(IdReason.BIRTH_DATE, "birth-date digits do not form a real date") from None
    if born > today:
        raise _fail(IdReason.BIRTH_DATE, "birth date is in the future")
    return born


def _sex_from_sequence(number: str) -> Sex:
    return Sex.MALE if int(number[16]) % 2 == 1 else Sex.FEMALE


# --------------------------------------------------------------------------- dates, sex, age


def age_on(born: date, day: date) -> int:
    """Whole years completed on ``day`` (29 February birthdays count on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _require_date(value: object, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{what} must be a datetime.date (not a datetime)")
    return value


_DATE_TEXT = re.compile(r"^(\d{4})[-./]?(\d{2})[-./]?(\d{2})$", re.ASCII)
_PERIOD_TEXT = re.compile(r"^(\d{4}\.\d{2}\.\d{2})-(.+)$", re.ASCII)
_LONG_TERM_WORDS = {"长期", "長期", "LONG_TERM", "LONG-TERM", "LONGTERM"}


def parse_expiry(value: date | str) -> date | None:
    """A date, or None for long-term.  Accepts a ``date``, ``LONG_TERM``/``"长期"``,
    ``"YYYY-MM-DD"``, ``"YYYYMMDD"``, ``"YYYY.MM.DD"``, or the card's validity
    period ``"2010.01.01-2030.01.01"`` / ``"2010.01.01-长期"`` (its end is taken)."""
    if isinstance(value, date):
        return _require_date(value, "expiry")
    if not isinstance(value, str):
        raise _fail(IdReason.EXPIRY_INVALID, "expiry must be a date or text")
    text = _WHITESPACE.sub("", value.translate(_FULLWIDTH)).upper()
    period = _PERIOD_TEXT.match(text)
    if period:
        text = period.group(2)
    if text in _LONG_TERM_WORDS:
        return None
    m = _DATE_TEXT.match(text)
    if not m:
        raise _fail(IdReason.EXPIRY_INVALID, "expiry is neither a date nor long-term (长期)")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise _fail(IdReason.EXPIRY_INVALID, "expiry is not a real date") from None


_SEX_WORDS = {
    "M": Sex.MALE, "MALE": Sex.MALE, "男": Sex.MALE,
    "F": Sex.FEMALE, "FEMALE": Sex.FEMALE, "女": Sex.FEMALE,
    "X": Sex.UNSPECIFIED,
}


def parse_sex(value: Sex | str) -> Sex:
    """``Sex`` from ``"M"``/``"F"``/``"X"``, ``"male"``/``"female"`` or ``"男"``/``"女"``."""
    if isinstance(value, Sex):
        return value
    if isinstance(value, str):
        sex = _SEX_WORDS.get(value.strip().upper())
        if sex is not None:
            return sex
    raise _fail(IdReason.SEX_INVALID, "declared sex must be M, F or X")


def _check_declared_birth_date(derived: date, declared: date | None) -> None:
    if declared is not None and _require_date(declared, "birth_date") != derived:
        raise _fail(IdReason.BIRTH_DATE_MISMATCH, "declared birth date differs from the document's")


def _check_declared_sex(derived: Sex | None, declared: Sex | str | None) -> Sex | None:
    if declared is None:
        return derived
    sex = parse_sex(declared)
    if derived is None or derived is Sex.UNSPECIFIED:
        return sex  # the document does not say: the declaration is all we have
    if sex is Sex.UNSPECIFIED:
        return derived
    if sex is not derived:
        raise _fail(IdReason.SEX_MISMATCH, "declared sex differs from the document's")
    return derived


def _check_age(born: date, today: date, min_age: int) -> None:
    if age_on(born, today) < min_age:
        raise _fail(IdReason.UNDERAGE, f"holder is younger than {min_age} years")


def _check_expiry(expiry: date | None, today: date) -> None:
    if expiry is not None and expiry < today:
        raise _fail(IdReason.EXPIRED, "document has expired")


def _required_expiry(value: date | str | None, *, long_term_allowed: bool) -> date | None:
    if value is None:
        raise _fail(IdReason.EXPIRY_MISSING, "expiry date (or long-term) is required for this document")
    expiry = parse_expiry(value)
    if expiry is None and not long_term_allowed:
        raise _fail(IdReason.EXPIRY_INVALID, "this kind of document is never valid long-term")
    return expiry


# --------------------------------------------------------------------------- names

_MIDDLE_DOT = "\u00b7"
# Dots people type instead of U+00B7 in minority and foreign names written in
# Chinese (katakana middle dot, its half-width form, hyphenation point, bullet,
# dot operator, bullet operator).  U+0387 needs no entry: NFC maps it to U+00B7.
_DOT_VARIANTS = dict.fromkeys(map(ord, "\u30fb\uff65\u2027\u2022\u22c5\u2219"), _MIDDLE_DOT)
_NAME_PUNCTUATION = frozenset(" " + _MIDDLE_DOT + "-\u2010'\u2019.,")
_SPACES_AROUND_DOT = re.compile(r" ?\u00b7 ?")


def validate_name(name: str, *, max_length: int = DEFAULT_MAX_NAME_LENGTH) -> str:
    """The name as typed, NFC-normalised, or :class:`IdDocumentError`.

    Kept: letters and combining marks of any script (CJK included, astral
    extension characters too), private-use characters (rare characters 生僻字 from
    older GB 18030 mappings land there), spaces and the punctuation ``· - ‐ ' ’ . ,``.
    Variants of the middle dot are folded into U+00B7, spaces around it dropped,
    runs of spaces (U+3000 included) folded into one.  Refused: control and
    invisible formatting characters (bidi overrides, zero-width characters),
    digits, symbols, a middle dot at either end or doubled, and more than
    ``max_length`` code points after normalisation.
    """
    if not isinstance(name, str):
        raise _fail(IdReason.NAME_INVALID, "name must be text")
    text = unicodedata.normalize("NFC", name).translate(_DOT_VARIANTS)
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp"):
            raise _fail(IdReason.NAME_INVALID, "name contains a control or invisible formatting character")
    text = " ".join(text.split())  # Zs (U+3000, U+00A0, ...) -> one ASCII space
    text = _SPACES_AROUND_DOT.sub(_MIDDLE_DOT, text)
    if not text:
        raise _fail(IdReason.NAME_EMPTY, "name is empty")
    has_letter = False
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "L" or cat == "Co":
            has_letter = True
        elif cat[0] != "M" and ch not in _NAME_PUNCTUATION:
            raise _fail(IdReason.NAME_INVALID, "name contains a character that is not part of a name")
    if not has_letter:
        raise _fail(IdReason.NAME_INVALID, "name has no letters")
    if text[0] == _MIDDLE_DOT or text[-1] == _MIDDLE_DOT or _MIDDLE_DOT * 2 in text:
        raise _fail(IdReason.NAME_INVALID, "middle dot must separate two name parts")
    if len(text) > max_length:
        raise _fail(IdReason.NAME_TOO_LONG, f"name is longer than {max_length} characters")
    return text


# --------------------------------------------------------------------------- ICAO 9303 MRZ

_MRZ_CHARS = re.compile(r"^[A-Z0-9<]+$")
_MRZ_VALUES = {**{str(d): d for d in range(10)},
               **{chr(ord("A") + i): 10 + i for i in range(26)}, "<": 0}
_MRZ_SHAPES = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}


def mrz_check_digit(field_text: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1 repeating; 0-9 as is, A-Z = 10-35,
    filler ``<`` = 0; the sum modulo 10."""
    return str(sum(_MRZ_VALUES[c] * (7, 3, 1)[i % 3] for i, c in enumerate(field_text)) % 10)


def _mrz_lines(mrz: str | Sequence[str]) -> list[str]:
    if isinstance(mrz, str):
        raw_lines = mrz.splitlines()
    elif isinstance(mrz, Sequence) and all(isinstance(x, str) for x in mrz):
        raw_lines = list(mrz)
    else:
        raise _fail(IdReason.MRZ_FORMAT, "MRZ must be text or a list of lines")
    lines = [normalise_number(line) for line in raw_lines]
    lines = [line for line in lines if line]
    if len(lines) == 1 and len(lines[0]) in (90, 72, 88):  # one run-together string
        width = {90: 30, 72: 36, 88: 44}[len(lines[0])]
        lines = [lines[0][i:i + width] for i in range(0, len(lines[0]), width)]
    if (len(lines), len(lines[0]) if lines else 0) not in _MRZ_SHAPES or len(set(map(len, lines))) != 1:
        raise _fail(IdReason.MRZ_FORMAT, "MRZ must be 3 lines of 30, or 2 lines of 36 or 44 characters")
    for line in lines:
        if not _MRZ_CHARS.match(line):
            raise _fail(IdReason.MRZ_FORMAT, "MRZ may contain only A-Z, 0-9 and <")
    return lines


def _verify(field_text: str, check: str, what: str) -> None:
    if check == "<" and what == "optional data" and set(field_text) == {"<"}:
        return  # ICAO allows filler as the check digit of an all-filler optional field
    if check != mrz_check_digit(field_text):
        raise _fail(IdReason.MRZ_CHECK_DIGIT, f"MRZ check digit of the {what} is wrong")


def _document_number(number: str, check: str, overflow: str) -> tuple[str, str, str]:
    """(number, its check digit, the characters the check covers).  A number longer
    than 9 characters has ``<`` in the check position and continues in the
    optional data, followed by its check digit (TD1, TD2)."""
    if check == "<" and number[-1] != "<":
        tail = overflow.split("<", 1)[0]
        if len(tail) < 2:
            raise _fail(IdReason.MRZ_FORMAT, "MRZ document number overflow is malformed")
        full = number + tail[:-1]
        return full, tail[-1], full
    return number, check, number


def _mrz_date(text: str, what: str) -> tuple[int, int, int]:
    if not (text.isascii() and text.isdigit()):
        raise _fail(IdReason.BIRTH_DATE if what == "birth date" else IdReason.EXPIRY_INVALID,
                    f"MRZ {what} is incomplete")
    return int(text[:2]), int(text[2:4]), int(text[4:6])


def _birth_century(text: str, today: date) -> date:
    """YYMMDD -> the latest date not after ``today`` (20YY, else 19YY)."""
    yy, mm, dd = _mrz_date(text, "birth date")
    for century in (2000, 1900):
        try:
            born = date(century + yy, mm, dd)
        except ValueError:
            continue
        if born <= today:
            return born
    raise _fail(IdReason.BIRTH_DATE, "MRZ birth date is not a real past date")


def _expiry_century(text: str, today: date) -> date:
    """YYMMDD -> the candidate century nearest ``today`` (documents run for years,
    not decades, so the nearest reading is the right one)."""
    yy, mm, dd = _mrz_date(text, "expiry date")
    candidates = []
    for century in (1900, 2000, 2100):
        try:
            candidates.append(date(century + yy, mm, dd))
        except ValueError:
            continue
    if not candidates:
        raise _fail(IdReason.EXPIRY_INVALID, "MRZ expiry date is not a real date")
    return min(candidates, key=lambda d: abs((d - today).days))


def _mrz_sex(ch: str) -> Sex:
    if ch == "M":
        return Sex.MALE
    if ch == "F":
        return Sex.FEMALE
    if ch in ("<", "X"):
        return Sex.UNSPECIFIED
    raise _fail(IdReason.MRZ_FORMAT, "MRZ sex must be M, F, X or <")


def _mrz_code(text: str, what: str) -> str:
    if not re.fullmatch(r"[A-Z<]{3}", text):
        raise _fail(IdReason.MRZ_FORMAT, f"MRZ {what} must be letters or <")
    return text.replace("<", "")


def _mrz_name(text: str) -> tuple[str, str]:
    surname, _, given = text.partition("<<")
    return " ".join(surname.replace("<", " ").split()), " ".join(given.replace("<", " ").split())


def parse_mrz(mrz: str | Sequence[str], *, today: date) -> MrzData:
    """Parse an ICAO 9303 MRZ (TD1, TD2 or TD3) and verify every check digit.

    ``mrz``: the lines as text (newline-separated, or run together) or a list of
    lines; spaces, lower case and full-width forms are tolerated.  Two-digit
    years: a birth date is the latest reading not after ``today``; an expiry the
    reading nearest ``today``.  Raises :class:`IdDocumentError` (``ID.MRZ_*``,
    ``ID.BIRTH_DATE``, ``ID.EXPIRY_INVALID``).  Visas (document code ``V``) parse
    as TD3/TD2-sized but are refused: their layout has no composite check digit.
    """
    today = _require_date(today, "today")
    lines = _mrz_lines(mrz)
    fmt = _MRZ_SHAPES[(len(lines), len(lines[0]))]
    if lines[0][0] == "V":
        raise _fail(IdReason.MRZ_DOCUMENT_CODE, "a visa is not an identity document")
    if fmt == "TD1":
        l1, l2, l3 = lines
        code, state = l1[0:2], l1[2:5]
        number, number_cd, covered = _document_number(l1[5:14], l1[14], l1[15:30])
        _verify(covered, number_cd, "document number")
        birth, birth_cd, sex, expiry, expiry_cd = l2[0:6], l2[6], l2[7], l2[8:14], l2[14]
        nationality, optional = l2[15:18], l1[15:30] + l2[18:29]
        composite, composite_cd = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]
        name = l3
    else:
        l1, l2 = lines
        code, state, name = l1[0:2], l1[2:5], l1[5:]
        if fmt == "TD2":
            number, number_cd, covered = _document_number(l2[0:9], l2[9], l2[28:35])
            optional, composite, composite_cd = l2[28:35], l2[0:10] + l2[13:20] + l2[21:35], l2[35]
        else:
            number, number_cd, covered = l2[0:9], l2[9], l2[0:9]
            optional = l2[28:42]
            _verify(optional, l2[42], "optional data")
            composite, composite_cd = l2[0:10] + l2[13:20] + l2[21:43], l2[43]
        _verify(covered, number_cd, "document number")
        birth, birth_cd, sex, expiry, expiry_cd = l2[13:19], l2[19], l2[20], l2[21:27], l2[27]
        nationality = l2[10:13]
    _verify(birth, birth_cd, "birth date")
    _verify(expiry, expiry_cd, "expiry date")
    _verify(composite, composite_cd, "composite")
    if not code[0].isalpha():
        raise _fail(IdReason.MRZ_FORMAT, "MRZ document code must start with a letter")
    surname, given = _mrz_name(name)
    document_number = number.replace("<", "")
    if not document_number:
        raise _fail(IdReason.MRZ_FORMAT, "MRZ document number is empty")
    return MrzData(
        format=fmt,
        document_code=code.replace("<", ""),
        issuing_state=_mrz_code(state, "issuing state"),
        document_number=document_number,
        nationality=_mrz_code(nationality, "nationality"),
        birth_date=_birth_century(birth, today),
        sex=_mrz_sex(sex),
        expiry=_expiry_century(expiry, today),
        surname=surname,
        given_names=given,
        optional_data=optional.replace("<", " ").strip(),
    )


# --------------------------------------------------------------------------- entry point

_HK_MACAO_PERMIT = re.compile(r"^([HM])(\d{8})(\d{2})?$", re.ASCII)
_TAIWAN_PERMIT = re.compile(r"^\d{8}$", re.ASCII)


def validate_document(
    kind: DocumentKind | str,
    number: str | None = None,
    *,
    today: date,
    birth_date: date | None = None,
    sex: Sex | str | None = None,
    expiry: date | str | None = None,
    name: str | None = None,
    mrz: str | Sequence[str] | None = None,
    min_age: int = DEFAULT_MIN_AGE,
    max_name_length: int = DEFAULT_MAX_NAME_LENGTH,
) -> IdDocument:
    """Validate one identity document as presented at the counter.

    ``kind``: a :class:`DocumentKind` or its value.  ``number``: the document
    number as typed (for ``passport``/``travel_document`` optional, and compared
    with the MRZ when given).  ``birth_date``, ``sex``, ``expiry`` and ``name`` are
    what the clerk's terminal read from the face of the document; each is
    cross-checked against what the number or MRZ encodes.  Required: ``expiry``
    for the Chinese documents (``LONG_TERM`` allowed for resident IDs only),
    ``birth_date`` for the two travel permits (their numbers do not encode it),
    ``mrz`` for ``passport``/``travel_document``.  ``min_age`` (years, inclusive)
    and ``max_name_length`` (code points) come from configuration.

    Checks run cheapest-and-most-telling first (format, check character, region,
    dates, age, expiry, name) and the first failure is raised as
    :class:`IdDocumentError`.
    """
    today = _require_date(today, "today")
    try:
        kind = DocumentKind(kind)
    except ValueError:
        raise _fail(IdReason.KIND_UNSUPPORTED, "unsupported document kind") from None
    if kind in _MRZ_KINDS:
        doc = _validate_mrz_document(kind, number, mrz, today=today, birth_date=birth_date, sex=sex,
                                     expiry=expiry, min_age=min_age)
    else:
        if number is None:
            raise _fail(IdReason.FORMAT, "document number is required")
        n = normalise_number(number)
        if kind in (DocumentKind.CN_RESIDENT_ID, DocumentKind.CN_HMT_RESIDENCE_PERMIT):
            doc = _validate_gb11643(kind, n, today=today, birth_date=birth_date, sex=sex,
                                    expiry=expiry, min_age=min_age)
        else:
            doc = _validate_travel_permit(kind, n, today=today, birth_date=birth_date, sex=sex,
                                          expiry=expiry, min_age=min_age)
    if name is not None:
        doc = replace(doc, name=validate_name(name, max_length=max_name_length))
    return doc


def _validate_gb11643(kind, n, *, today, birth_date, sex, expiry, min_age) -> IdDocument:
    is_permit = kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT
    if not is_permit and len(n) == 15 and n.isascii() and n.isdigit():
        raise _fail(IdReason.LEGACY_15_DIGIT,
                    "15-digit first-generation numbers are no longer valid; ask for the 18-character card")
    _check_gb11643(n)
    region = n[:6]
    if is_permit:
        if region not in _HMT_REGIONS:
            raise _fail(IdReason.REGION, "residence permit numbers start with 810000, 820000 or 830000")
    elif region.startswith(_NOT_RESIDENT_ID_PREFIXES):
        raise _fail(IdReason.REGION, f"address code {region} is not used on resident IDs "
                                     "(810000/820000/830000 are residence permits)")
    elif region not in divisions():
        raise _fail(IdReason.REGION, f"address code {region} is not a GB/T 2260 division, past or present")
    born = _birth_date_from_digits(n[6:14], today)
    _check_declared_birth_date(born, birth_date)
    doc_sex = _check_declared_sex(_sex_from_sequence(n), sex)
    _check_age(born, today, min_age)
    exp = _required_expiry(expiry, long_term_allowed=not is_permit)
    _check_expiry(exp, today)
    return IdDocument(
        kind=kind, number=n, holder_key=n, birth_date=born, sex=doc_sex, expiry=exp,
        long_term=exp is None, region_code=region,
        region_name=_HMT_REGIONS[region] if is_permit else region_name(region, born.year),
        issuing_state="CHN", nationality="CHN",
    )


def _validate_travel_permit(kind, n, *, today, birth_date, sex, expiry, min_age) -> IdDocument:
    if kind is DocumentKind.HK_MACAO_TRAVEL_PERMIT:
        m = _HK_MACAO_PERMIT.match(n)
        if not m:
            raise _fail(IdReason.FORMAT, "expected H or M followed by 8 digits (and the 2-digit renewal count)")
        holder_key = m.group(1) + m.group(2)
        region = "810000" if m.group(1) == "H" else "820000"
    else:
        if not _TAIWAN_PERMIT.match(n):
            raise _fail(IdReason.FORMAT, "expected the 8-digit lifetime number")
        holder_key, region = n, "830000"
    if birth_date is None:
        raise _fail(IdReason.BIRTH_DATE_MISSING, "birth date is required: this number does not encode it")
    born = _require_date(birth_date, "birth_date")
    if born > today:
        raise _fail(IdReason.BIRTH_DATE, "birth date is in the future")
    doc_sex = parse_sex(sex) if sex is not None else None
    _check_age(born, today, min_age)
    exp = _required_expiry(expiry, long_term_allowed=False)
    _check_expiry(exp, today)
    return IdDocument(
        kind=kind, number=n, holder_key=holder_key, birth_date=born, sex=doc_sex, expiry=exp,
        region_code=region, region_name=_HMT_REGIONS[region], issuing_state="CHN", nationality="CHN",
    )


def _validate_mrz_document(kind, number, mrz, *, today, birth_date, sex, expiry, min_age) -> IdDocument:
    if mrz is None:
        raise _fail(IdReason.MRZ_MISSING, "passports and travel documents are validated from their MRZ")
    data = parse_mrz(mrz, today=today)
    wanted = ("P",) if kind is DocumentKind.PASSPORT else ("I", "A", "C")
    if data.document_code[0] not in wanted:
        raise _fail(IdReason.MRZ_DOCUMENT_CODE,
                    f"MRZ document code {data.document_code} is not a {kind.value.replace('_', ' ')}")
    if number is not None and normalise_number(number) != data.document_number:
        raise _fail(IdReason.NUMBER_MISMATCH, "typed document number differs from the MRZ")
    _check_declared_birth_date(data.birth_date, birth_date)
    doc_sex = _check_declared_sex(data.sex, sex)
    _check_age(data.birth_date, today, min_age)
    if expiry is not None:
        declared = parse_expiry(expiry)
        if declared != data.expiry:
            raise _fail(IdReason.EXPIRY_MISMATCH, "declared expiry differs from the MRZ")
    _check_expiry(data.expiry, today)
    mrz_name = ", ".join(p for p in (data.surname, data.given_names) if p) or None
    return IdDocument(
        kind=kind, number=data.document_number,
        holder_key=f"{data.issuing_state}:{data.document_number}",
        birth_date=data.birth_date, sex=doc_sex, expiry=data.expiry,
        issuing_state=data.issuing_state, nationality=data.nationality or None,
        document_code=data.document_code, mrz_format=data.format, name=mrz_name,
    )
