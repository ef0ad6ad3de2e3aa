"""The leak scan (issue 5, item 1): no raw biometrics and no clear ID or phone
numbers at rest.

Full registrations run through the real HTTP API with a real video and real
portraits from ../shared/data: one approved (templates configured on, so sealed
templates exist), one rejected for a different person's portrait, one
alternative-path registration by a supervisor, a citizen lookup with a dispute,
and a supervisor suspending a number by its phone number.  Everything the
process leaves behind is then scanned:

* the database: on SQLite the file itself with its ``-wal`` and ``-shm``
  files, both as they are after the requests and again after a checkpoint
  (closing the last connection folds the WAL into the file); on PostgreSQL a
  file scan is not possible, so a ``pg_dump``-like export is scanned instead:
  every row of every table of the schema, text as text and bytes as bytes
  (what a dump holds, not what the server's pages hold);
* all log output: simreg's JSON log handler (``configure_logging``, at DEBUG,
  on a StringIO), pytest's ``caplog`` (which receives the records after our
  handler's redaction filter, pytest appending its handler after ours), the
  process's own stdout/stderr at the file-descriptor level (``capfd``: C
  libraries such as FFmpeg write there) and the face-engine worker processes'
  stdout/stderr (redirected to a file when they are spawned);
* the temporary directory: ``TMPDIR``/``tempfile.tempdir`` point at an empty
  directory for the whole module, *before* the face-engine worker processes
  are spawned, so they use it too; every file in it, and its names.

The needles, found anywhere outside a known ciphertext:

* JPEG (FF D8 FF), PNG (89 50 4E 47), MP4/MOV (``ftyp``) and WebM/Matroska
  (1A 45 DF A3) magic bytes; their base64, standard and URL-safe, at each of
  the three byte alignments (as literal strings, and by decoding every run of
  base64 characters at each of its four character offsets and looking for the
  magic bytes there);
* embeddings: the exact bytes of the live face's and the portraits'
  embeddings (the pipeline run directly, ``assess_registration``, on the same
  inputs) as float32/float64 in either byte order, any 8 consecutive bytes of
  them; their decimal text (single values at full precision, three consecutive
  to 4 decimals); and, for any embedding at all, 128 consecutive float32 or
  float64 values of embedding-like magnitude at any alignment, or a run of 128
  decimal numbers in text; all of this also inside decoded base64;
* the clear ID numbers (18 characters, also with a lower-case x) and phone
  numbers (+86 and 11-digit forms).

"Outside a ciphertext": AES-GCM envelopes (``v1.<key>.<nonce>.<body>``) found
in the database are random bytes in base64, in which a 3-byte JPEG magic turns
up by chance (about once in 16 million positions).  A magic-byte hit that lies
wholly inside a run of such ciphertext is therefore not a leak.  Nothing else
is excused: an ID number, a phone number or an embedding is a leak wherever it
is.  The scanner's own tests plant each kind of needle and require it found.
"""

from __future__ import annotations

import base64
import bisect
import io
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text as sql

from service_support import CHALLENGE, CONSENT, RESIDENT_ID, make_service, media, registration_form
from simreg.domain.access import Role

POOL = ["+8613800138000", "+8613800138001", "+8613800138002", "+8613800138003"]
VIDEO_LIMITS: dict = {}   # the capture is cut to 12 s (tests/data/conftest.py): the default limits apply


def resident_id(first17: str) -> str:
    """A valid resident ID: ISO 7064 MOD 11-2 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


OTHER_ID = resident_id("44030419850612003")      # the rejected attempt's card
ALT_ID = resident_id("31010419770305004")        # the alternative-path customer
assert resident_id(RESIDENT_ID[:17]) == RESIDENT_ID


# ====================================================================================== the scanner

MAGICS = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG", "MP4/MOV": b"ftyp", "WebM/Matroska": b"\x1a\x45\xdf\xa3"}
# A JPEG's third byte is followed by its first marker; with it, every alignment of its base64
# has at least 4 certain characters (3 alone give 3, which random base64 text matches often).
JPEG_FIRST_MARKERS = (0xE0, 0xE1, 0xE2, 0xDB, 0xEE, 0xC0, 0xC4, 0xFE)
B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}")
ENVELOPE = re.compile(rb"v1\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
FLOAT_TOKEN = re.compile(rb"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
SEPARATORS = re.compile(rb"[\s,;\[\]()]*")
B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
K = 24   # ciphertext k-mer length


def base64_forms(needle: bytes) -> set[bytes]:
    """The base64 text (standard and URL-safe) that certainly appears when
    ``needle`` is encoded at byte offset 0, 1 or 2 of a 3-byte group:
    character j is certain when its 6 bits all come from the needle."""
    forms = set()
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + needle + b"\0\0\0")
        certain = [j for j in range(len(enc)) if 6 * j >= 8 * shift and 6 * j + 6 <= 8 * (shift + len(needle))]
        chars = enc[certain[0]:certain[-1] + 1]
        if len(chars) >= 4:
            forms |= {chars, chars.replace(b"+", b"-").replace(b"/", b"_")}
    return forms


def test_each_magic_has_base64_needles_at_all_three_alignments():
    assert base64_forms(b"\xff\xd8\xff") == {b"/9j/", b"_9j_"}  # 3 bytes: only alignment 0 has 4 certain chars
    jpeg = set().union(*(base64_forms(b"\xff\xd8\xff" + bytes([m])) for m in JPEG_FIRST_MARKERS))
    for shift in range(3):   # what a real JPEG's base64 holds at each alignment
        blob = base64.b64encode(b"ab"[:shift] + b"\xff\xd8\xff\xe0\x00\x10JFIF")
        assert any(f in blob for f in jpeg), shift
    for magic in (b"\x89PNG", b"ftyp", b"\x1a\x45\xdf\xa3"):
        assert len({f for f in base64_forms(magic) if b"-" not in f and b"_" not in f}) == 3, magic


def magic_base64_needles() -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for kind, magic in MAGICS.items():
        heads = [magic + bytes([m]) for m in JPEG_FIRST_MARKERS] if kind == "JPEG" else [magic]
        for head in heads:
            for form in base64_forms(head):
                out[form] = f"base64 of the {kind} magic ({form.decode()})"
    return out


@dataclass
class Embeddings:
    """The needles for embeddings: the actual vectors (by model) and what they look like as bytes and text."""

    vectors: dict[str, np.ndarray]

    def __post_init__(self):
        words: set[int] = set()
        for v in self.vectors.values():
            for dtype, step in (("<f4", 4), (">f4", 4), ("<f8", 8), (">f8", 8)):
                raw = v.astype(dtype).tobytes()
                words |= {int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw) - 7, step)}
        self.words = np.array(sorted(words), dtype=np.uint64)
        self.texts: set[bytes] = set()
        self.triples: set[tuple[int, int, int]] = set()
        for v in self.vectors.values():
            for x in v:   # full precision only: a short decimal could be any score
                for t in (repr(float(np.float32(x))), repr(float(x))):
                    if len(re.sub(r"[^0-9]", "", t.split("e")[0]).lstrip("0")) >= 12:
                        self.texts.add(t.lstrip("-").encode())
            r = np.round(np.asarray(v, dtype=np.float64) * 1e4).astype(np.int64).tolist()
            self.triples |= set(zip(r[:-2], r[1:-1], r[2:], strict=True))


@dataclass(frozen=True)
class Finding:
    where: str
    what: str
    offset: int
    context: bytes

    def __str__(self) -> str:
        return f"{self.where} @ {self.offset}: {self.what}  [{self.context!r}]"


class Scanner:
    def __init__(self, ids: list[str], phones: list[str], embeddings: Embeddings,
                 ciphertexts: set[bytes] = frozenset()):
        self.embeddings = embeddings
        self.clear: dict[bytes, str] = {}
        for n in ids:
            for form in (n.upper(), n.lower()):
                self.clear[form.encode()] = f"clear ID number {form}"
                self.clear[form.encode("utf-16-le")] = f"clear ID number {form} (UTF-16)"
        for p in phones:
            digits = p.removeprefix("+86")
            for form in (p, "0086" + digits, digits):
                self.clear[form.encode()] = f"clear phone number {form}"
                self.clear[form.encode("utf-16-le")] = f"clear phone number {form} (UTF-16)"
        self.magic_b64 = magic_base64_needles()
        self.kmers = {c[i:i + K] for c in ciphertexts for i in range(len(c) - K + 1)}

    # ---------------------------------------------------------------- ciphertext
    def _in_ciphertext(self, data: bytes, start: int, end: int) -> bool:
        """Whether data[start:end] lies in a run of base64 characters that is wholly known ciphertext."""
        lo, hi = start, end
        while lo > 0 and data[lo - 1] in B64_CHARS:
            lo -= 1
        while hi < len(data) and data[hi] in B64_CHARS:
            hi += 1
        run = data[lo:hi]
        if len(run) < K or not self.kmers or not all(c in B64_CHARS for c in data[start:end]):
            return False
        windows = [*range(0, len(run) - K + 1, K // 2), len(run) - K]
        return all(run[i:i + K] in self.kmers for i in windows)

    # ---------------------------------------------------------------- the kinds of needle
    def scan(self, where: str, data: bytes) -> list[Finding]:
        found: list[Finding] = []

        def hit(what: str, offset: int, length: int = 8) -> None:
            found.append(Finding(where, what, offset, data[max(0, offset - 24):offset + length + 24]))

        for kind, magic in MAGICS.items():
            for m in re.finditer(re.escape(magic), data):
                if not self._in_ciphertext(data, m.start(), m.end()):
                    hit(f"{kind} magic bytes", m.start())
        for needle, what in self.magic_b64.items():
            for m in re.finditer(re.escape(needle), data):
                if not self._in_ciphertext(data, m.start(), m.end()):
                    hit(what, m.start())
        for needle, what in self.clear.items():
            for m in re.finditer(re.escape(needle), data):
                hit(what, m.start(), len(needle))
        for offset, what in self._binary_embeddings(data):
            hit(what, offset, 32)
        for offset, what in self._text_embeddings(data):
            hit(what, offset, 32)

        # base64 of anything binary: every run of base64 characters decoded at each of its 4
        # character offsets, all into one buffer (16 zero bytes between pieces) scanned at once
        decoded, starts, sources = bytearray(), [], []
        for run in B64_RUN.finditer(data):
            chars = run.group().replace(b"-", b"+").replace(b"_", b"/")
            for off in range(4):
                body = chars[off:off + (len(chars) - off) // 4 * 4]
                starts.append(len(decoded))
                sources.append(run.start() + off)
                decoded += base64.b64decode(body) + b"\0" * 16
        decoded = bytes(decoded)

        def at(b: int) -> int:   # the position in ``data`` of decoded byte b
            i = bisect.bisect_right(starts, b) - 1
            return sources[i] + (b - starts[i]) * 4 // 3

        for kind, magic in MAGICS.items():
            for m in re.finditer(re.escape(magic), decoded):
                if not self._in_ciphertext(data, at(m.start()), at(m.end() - 1) + 1):
                    hit(f"{kind} magic bytes in base64", at(m.start()))
        for b, what in self._binary_embeddings(decoded):
            hit(what + " in base64", at(b), 32)
        return found

    def _binary_embeddings(self, data: bytes):
        """(offset, what) of the actual embeddings' bytes (any 8 consecutive bytes
        of them) and of any 128 consecutive embedding-like floats."""
        n = len(data)
        for off in range(8):
            m = (n - off) // 8
            if m <= 0:
                continue
            words = np.frombuffer(data, dtype="<u8", count=m, offset=off)
            for i in np.flatnonzero(np.isin(words, self.embeddings.words))[:3]:
                yield off + 8 * int(i), "the bytes of an actual embedding"
        for dtype, size in (("<f4", 4), (">f4", 4), ("<f8", 8), (">f8", 8)):
            for off in range(size):
                m = (n - off) // size
                if m < 128:
                    continue
                with np.errstate(all="ignore"):
                    v = np.abs(np.frombuffer(data, dtype=dtype, count=m, offset=off).astype(np.float64))
                    ok = np.isfinite(v) & (v <= 64.0)
                    good = ok & (v >= 1e-6)
                c_ok = np.concatenate([[0], np.cumsum(ok)])
                c_good = np.concatenate([[0], np.cumsum(good)])
                windows = np.flatnonzero(((c_ok[128:] - c_ok[:-128]) == 128) & ((c_good[128:] - c_good[:-128]) >= 124))
                if windows.size:
                    yield off + size * int(windows[0]), f"128 consecutive embedding-like {dtype} values"

    def _text_embeddings(self, data: bytes):
        e = self.embeddings
        run_start, run_len, prev_end, last = 0, 0, -1, ()
        for m in FLOAT_TOKEN.finditer(data):
            tok = m.group().lstrip(b"+-")
            if tok in e.texts:
                yield m.start(), f"an embedding value as text ({tok.decode()})"
            try:
                r = round(float(m.group()) * 1e4)
            except (ValueError, OverflowError):
                continue
            adjacent = prev_end >= 0 and SEPARATORS.fullmatch(data[prev_end:m.start()]) is not None
            last = (*last, r)[-3:] if adjacent else (r,)
            if len(last) == 3 and last in e.triples:
                yield m.start(), "three consecutive embedding values as text (4 decimals)"
            run_start, run_len = (run_start, run_len + 1) if adjacent else (m.start(), 1)
            if run_len == 128:
                yield run_start, "a run of 128 decimal numbers in text"
            prev_end = m.end()


# ====================================================================================== the scanner finds what it must







@pytest.fixture(scope="module")
def process_tmp(tmp_path_factory):
    """The process's temp dir, empty, for the whole module (set before the engine's workers start)."""
    d = tmp_path_factory.mktemp("process-tmp")
    mp = pytest.MonkeyPatch()
    for name in ("TMPDIR", "TEMP", "TMP"):
        mp.setenv(name, str(d))
    mp.setattr(tempfile, "tempdir", str(d))
    yield d
    mp.undo()


@pytest.fixture(scope="module")
def engine_runtime(process_tmp, tmp_path_factory, face_models):
    """A runtime of our own whose face-engine workers are spawned now: with the
    temp dir above, and their stdout/stderr going to a file we scan."""
    from simreg.config import Settings
    from simreg.runtime import build_runtime

    out = tmp_path_factory.mktemp("worker-output") / "workers.log"
    saved = os.dup(1), os.dup(2)
    with open(out, "wb") as f:
        try:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            rt = build_runtime(Settings(**VIDEO_LIMITS))
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    rt.worker_output = out
    yield rt
    rt.engine.close()


@pytest.fixture(scope="module")
def embeddings(engine_runtime, video, same_person_portrait, other_person_portrait) -> Embeddings:
    """The live face's embeddings from the same video (the pipeline run directly
    on the same inputs) and both portraits' embeddings."""
    from simreg.adapters.media import decode_image
    from simreg.app.pipeline import assess_registration
    from simreg.domain.challenge import parse_actions
    from simreg.runtime import image_limits, video_limits

    rt = engine_runtime
    a = assess_registration(rt.engine, rt.policy, same_person_portrait, video, parse_actions(",".join(CHALLENGE)),
                            False,
                            None, image_limits(rt.settings), video_limits(rt.settings))
    assert a.decision.outcome.value == "approved" and a.live_embeddings
    vectors = {f"live {mid}": np.asarray(e.vector) for mid, e in a.live_embeddings.items()}
    for who, portrait in (("same", same_person_portrait), ("other", other_person_portrait)):
        (face,) = rt.engine.analyse([decode_image(portrait, image_limits(rt.settings))], rt.policy)
        vectors |= {f"{who} portrait {mid}": np.asarray(e.vector) for mid, e in face.embeddings.items()}
    assert {len(v) for v in vectors.values()} == {128}  # SFace: live template and both portraits
    return Embeddings(vectors)


def _scanner(embeddings, ciphertexts=frozenset()) -> Scanner:
    return Scanner([RESIDENT_ID, OTHER_ID, ALT_ID], POOL, embeddings, set(ciphertexts))


def _kinds(findings) -> set[str]:
    return {f.what for f in findings}


def test_the_scanner_finds_every_kind_of_needle_it_is_planted_with(embeddings, same_person_portrait, video, tmp_path):
    scanner = _scanner(embeddings)
    rng = np.random.default_rng(7)
    live = embeddings.vectors[next(k for k in embeddings.vectors if k.startswith("live") and
                                   len(embeddings.vectors[k]) == 128)]
    # a portrait's embedding, another real vector than the live one
    portrait_vec = embeddings.vectors[next(k for k in embeddings.vectors if k.startswith("same portrait"))]
    synthetic = rng.normal(0, 0.05, 128)   # an embedding-sized array that is no real one
    pad = lambda b: b"page header\x00\x01" + b + b"\x00\x00trailer"  # noqa: E731
    planted = {
        "JPEG magic bytes": pad(same_person_portrait[:64]),
        "PNG magic bytes": pad(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        "MP4/MOV magic bytes": pad(video[:32]),
        "WebM/Matroska magic bytes": pad(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"),
        "the bytes of an actual embedding": pad(live.astype("<f4").tobytes()[40:56]),  # 4 values of it
        "128 consecutive embedding-like <f4 values": pad(b"x" + synthetic.astype("<f4").tobytes()),
        "128 consecutive embedding-like <f8 values": pad(b"xyz" + synthetic.astype("<f8").tobytes()),
        "an embedding value as text": json.dumps({"v": float(np.float32(portrait_vec[100]))}).encode(),
        "a run of 128 decimal numbers in text": json.dumps([round(float(x), 3) for x in synthetic]).encode(),
        "three consecutive embedding values as text (4 decimals)":
            f"emb [{portrait_vec[10]:.4f}, {portrait_vec[11]:.4f},{portrait_vec[12]:.4f} ...".encode(),
        "clear ID number 11010519491231002X": b'{"id": "11010519491231002X"}',
        "clear ID number 11010519491231002x": b"holder=11010519491231002x;",
        "clear phone number 13800138001": b"INSERT ... '13800138001'",
        "clear phone number +8613800138002": "电话 +8613800138002".encode(),
        "clear phone number 13800138003 (UTF-16)": "tel 13800138003".encode("utf-16-le"),
    }
    for shift in range(3):   # base64 at each alignment, in a longer text, standard and URL-safe
        blob = b"ab"[:shift] + same_person_portrait[:48]
        planted[f"base64 JPEG, alignment {shift}"] = b'{"img": "' + base64.b64encode(blob) + b'"}'
        planted[f"url-safe base64 JPEG, alignment {shift}"] = b"img=" + base64.urlsafe_b64encode(blob)
        planted[f"base64 embedding, alignment {shift}"] = b"t=" + base64.b64encode(
            b"ab"[:shift] + portrait_vec.astype("<f4").tobytes())
    for what, data in planted.items():
        path = tmp_path / "planted.bin"
        path.write_bytes(data)
        kinds = _kinds(scanner.scan(what, path.read_bytes()))
        if what.startswith("base64 JPEG") or what.startswith("url-safe base64 JPEG"):
            assert any(k.startswith("base64 of the JPEG magic") for k in kinds), (what, kinds)
            assert "JPEG magic bytes in base64" in kinds, (what, kinds)
        elif what.startswith("base64 embedding"):
            assert "the bytes of an actual embedding in base64" in kinds, (what, kinds)
            assert "128 consecutive embedding-like <f4 values in base64" in kinds, (what, kinds)
        else:
            assert any(k.startswith(what) for k in kinds), (what, kinds)

    # the real embeddings themselves look like embeddings to the heuristic
    for name, v in embeddings.vectors.items():
        found = _kinds(scanner.scan(name, b"\x00" + v.astype("<f4").tobytes()))
        assert "128 consecutive embedding-like <f4 values" in found


def test_the_scanner_passes_clean_data_and_excuses_only_magic_bytes_inside_a_ciphertext(embeddings):
    from simreg.adapters.crypto import Keyring

    kr = Keyring.generate()
    envelopes = [kr.encrypt(os.urandom(600), aad=b"x").encode() for _ in range(40)]
    # a ciphertext whose base64 happens to hold "/9j/" ("\xff\xd8\xff" at alignment 0)
    lucky = b"v1.k1.AAAAAAAAAAAAAAAA." + base64.urlsafe_b64encode(os.urandom(30) + b"\xff\xd8\xff\xe0" + os.urandom(30))
    clean = (b"SQLite format 3\x00" + b"\x00" * 4096 + b"|".join([*envelopes, lucky]) +
             json.dumps({"match": {"score": 0.8731, "threshold": 0.61}, "masked": "+86138****8000",
                         "id_index": "k1:" + "ab" * 32, "times": [0.5, 1.25, 7.5]}).encode())
    ciphertexts = {m.group(2) for m in ENVELOPE.finditer(clean)}
    assert _scanner(embeddings, ciphertexts).scan("clean", clean) == []
    # without knowing the ciphertexts, the lucky one is reported: the excuse is what hides it
    assert any("JPEG" in f.what for f in _scanner(embeddings).scan("clean", clean))
    # but a clear ID number inside a ciphertext-looking run is never excused
    assert _scanner(embeddings, ciphertexts).scan("x", lucky[:40] + b"11010519491231002X")


# ====================================================================================== the service, end to end


@pytest.fixture()
def logs(process_tmp):
    """simreg's log handler at DEBUG on a StringIO; the root logger restored afterwards."""
    from simreg.logs import configure_logging

    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    yield stream
    for h in list(root.handlers):
        if h not in saved_handlers:
            root.removeHandler(h)
            h.close()
    for h in saved_handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(saved_level)


@pytest.fixture()
def svc(engine_runtime, database_url, logs):
    s = make_service(engine_runtime, database_url, store_templates=True, **VIDEO_LIMITS)
    s.add_numbers(POOL)
    with s.client:
        yield s
    s.close()


def _run_every_flow(svc, same_person_portrait, other_person_portrait, video) -> None:
    def register(portrait, key, **form):
        sid = svc.session(CHALLENGE)
        r = svc.client.post("/v1/registrations", data=registration_form(sid, **form), files=media(portrait, video),
                            headers={**svc.auth(), "Idempotency-Key": key})
        assert r.status_code == 200, r.text
        return r.json()

    approved = register(same_person_portrait, "leak-1")
    assert approved["outcome"] == "approved" and approved["phone_number"] == POOL[0], approved
    rejected = register(other_person_portrait, "leak-2", id_number=OTHER_ID, name="李娜", phone_number=POOL[1][3:])
    assert rejected["outcome"] == "rejected" and "MATCH.BELOW_THRESHOLD" in rejected["reasons"], rejected
    alt = svc.client.post("/v1/registrations/alternative", headers={**svc.auth(Role.SUPERVISOR),
                                                                     "Idempotency-Key": "leak-3"},
                          json={"id_type": "cn_resident", "id_number": ALT_ID, "name": "张伟", "id_expiry": "long_term",
                                "phone_number": POOL[2][3:], "consent": json.loads(CONSENT),
                                "statement": "customer declines face recognition (PIPL art. 29)"})
    assert alt.status_code == 200 and alt.json()["phone_number"] == POOL[2], alt.text
    suspend = svc.client.post(f"/v1/numbers/{POOL[2]}/state", json={"state": "suspended", "reason": "lost phone"},
                              headers=svc.auth(Role.SUPERVISOR))
    assert suspend.status_code == 200, suspend.text

    sid = svc.session(CHALLENGE)
    form = {k: v for k, v in registration_form(sid).items() if k != "consent"}
    lookup = svc.client.post("/v1/citizen/lookups", data=form, files=media(same_person_portrait, video),
                             headers=svc.auth())
    assert lookup.status_code == 200 and lookup.json()["outcome"] == "approved", lookup.text
    found = lookup.json()
    assert [n["phone_number_masked"] for n in found["numbers"]] == ["+86138****8000"]
    d = svc.client.post("/v1/citizen/disputes", json={"lookup_token": found["lookup_token"],
                                                      "number_ref": found["numbers"][0]["number_ref"]},
                        headers=svc.auth())
    assert d.status_code == 201, d.text
    with svc.rt.database.connect() as c:   # templates were configured on: sealed ones exist
        assert c.execute(sql("SELECT count(*) FROM templates")).scalar_one() == len(svc.rt.engine.model_ids)


def _table_export(engine) -> bytes:
    """Every row of every table, as a dump holds them (bytes as bytes, the rest as text)."""
    out = bytearray()
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            tables = c.execute(sql("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        else:
            tables = c.execute(sql("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = current_schema()")).scalars().all()
        assert "templates" in tables and "audit_entries" in tables
        for t in tables:
            out += f"-- {t}\n".encode()
            for row in c.execute(sql(f'SELECT * FROM "{t}"')):
                out += b"\t".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                                  for v in row) + b"\n"
    return bytes(out)


def _scan_files(scanner: Scanner, paths, label: str) -> list[Finding]:
    found = []
    for p in paths:
        found += scanner.scan(f"{label} {p.name}", p.read_bytes())
    return found


def test_full_registrations_leave_no_image_video_embedding_or_clear_number_behind(
        svc, database_url, same_person_portrait, other_person_portrait, video, embeddings, engine_runtime, process_tmp,
        logs,
        caplog, capfd):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("simreg.leak_scan").debug("sentinel: the scan sees this handler's output")
    _run_every_flow(svc, same_person_portrait, other_person_portrait, video)

    export = _table_export(svc.rt.database)
    scanner = _scanner(embeddings, {m.group(2) for m in ENVELOPE.finditer(export)})
    findings: list[Finding] = scanner.scan("database export", export)

    if database_url.startswith("sqlite"):
        db_file = Path(database_url.removeprefix("sqlite:///"))
        files = sorted(db_file.parent.glob(db_file.name + "*"))
        assert {p.name for p in files} >= {db_file.name, db_file.name + "-wal"}, files
        findings += _scan_files(scanner, files, "database file (before checkpoint)")
        svc.rt.database.dispose()          # the last connection closes: the WAL is checkpointed
        files = sorted(db_file.parent.glob(db_file.name + "*"))
        findings += _scan_files(scanner, files, "database file (after checkpoint)")

    out, err = capfd.readouterr()
    log_text = {"simreg log (JSON handler)": logs.getvalue(), "caplog": caplog.text,
                "caplog records": "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records),
                "process stdout": out, "process stderr": err,
                "engine workers' stdout/stderr": engine_runtime.worker_output.read_text(errors="replace")}
    for where in ("simreg log (JSON handler)", "caplog"):
        assert "sentinel: the scan sees" in log_text[where], f"{where} was not captured"
    for where, text in log_text.items():
        findings += scanner.scan(where, text.encode())

    temp_files = [p for p in process_tmp.rglob("*")]
    findings += scanner.scan("temp dir names", "\n".join(str(p) for p in temp_files).encode())
    findings += _scan_files(scanner, [p for p in temp_files if p.is_file()], "temp file")

    assert not findings, "leaks:\n" + "\n".join(map(str, findings))
