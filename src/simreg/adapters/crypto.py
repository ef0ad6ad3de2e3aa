"""Symmetric keys for personal data: AES-256-GCM envelopes and HMAC-SHA256 blind indexes.

A :class:`Keyring` holds two kinds of 32-byte keys, each with a short key id:

* **encryption keys** (AES-256-GCM): one active key encrypts; every key decrypts.
  They encrypt identifiers (ID numbers, phone numbers) and *wrap* per-subject
  data keys (DEKs) used for crypto-shredding.
* **index keys** (HMAC-SHA256): one active key makes blind indexes for new
  rows; every key's index is offered to lookups (:meth:`Keyring.blind_indexes`)
  so rows indexed before a rotation are still found.

The keyring is immutable: :meth:`Keyring.rotate` returns a new one.

Envelope (text, ASCII, no padding, ``.`` separated)::

    v1.<key id>.<b64url 12-byte nonce>.<b64url ciphertext || 16-byte tag>

The AEAD's associated data is ``b"simreg-envelope/v1\\x00" + key_id + b"\\x00" + aad``,
so the header is authenticated too and the caller's ``aad`` binds a ciphertext
to its row and purpose.  Data sealed with a raw DEK (:func:`seal`) uses the
reserved key id ``dek``.

Blind index: ``"<index key id>:" + hex(HMAC-SHA256(key, b"simreg-blind-index/v1\\x00" +
purpose + b"\\x00" + value))``.  ``value`` is used byte for byte (UTF-8):
callers pass the canonical form (``id_document.normalise_number`` for ID numbers).

Every failure is a :class:`KeyringError` with a stable ``code`` and a message
that never contains key material or plaintext.  Format, rotation and threats:
``docs/design/keys.md``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.reasons import KeyCode, ReasonCode

log = logging.getLogger(__name__)

FORMAT = "simreg-keyring/v1"
ENVELOPE_VERSION = "v1"
DEK_KEY_ID = "dek"          # reserved: envelopes sealed with a raw per-subject data key
KEY_BYTES = 32              # AES-256 and HMAC-SHA256 keys alike
NONCE_BYTES = 12            # 96-bit random nonce (NIST SP 800-38D, 8.2.2)
TAG_BYTES = 16
DEK_AAD = b"dek"            # associated data when a DEK is wrapped

_ENVELOPE_DOMAIN = b"simreg-envelope/v1\x00"
_INDEX_DOMAIN = b"simreg-blind-index/v1\x00"
_CHECK_DOMAIN = b"simreg-key-check/v1\x00"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_FILE_FIELDS = {"format", "encryption", "index"}
_KIND_FIELDS = {"active", "keys"}


# --------------------------------------------------------------------------- errors


class KeyringError(Exception):
    """Any keyring or envelope failure.

    ``code`` is stable (part of the CLI/HTTP contract once mapped):

    ============================  ==================================================
    ``KEYS.MISSING``              the keyring file or variable is absent/empty
    ``KEYS.UNREADABLE``           it cannot be read or is not a valid keyring
    ``KEYS.PERMISSIONS``          the key file is readable or writable by others
    ``KEYS.WRITE_FAILED``         the keyring file could not be written
    ``KEYS.UNKNOWN_KEY``          an envelope or DEK names a key id we do not hold
    ``KEYS.BAD_ENVELOPE``         the text is not a well-formed v1 envelope
    ``KEYS.DECRYPT_FAILED``       authentication failed: wrong key, wrong aad, tampering
    ``KEYS.INVALID_ARGUMENT``     a caller passed an unusable value (type, purpose, DEK size)
    ``KEYS.INVALID_OPERATION``    e.g. removing the active key
    ``KEYS.MISMATCH``             a key id names a different key than the data was written with
    ============================  ==================================================

    ``message`` is safe to log and show an operator: it never holds key bytes,
    plaintext or envelope contents.
    """

    # the codes live in the one enum family (domain/reasons.py); plain strings here
    MISSING = KeyCode.MISSING.value
    UNREADABLE = KeyCode.UNREADABLE.value
    PERMISSIONS = KeyCode.PERMISSIONS.value
    WRITE_FAILED = KeyCode.WRITE_FAILED.value
    UNKNOWN_KEY = KeyCode.UNKNOWN_KEY.value
    BAD_ENVELOPE = KeyCode.BAD_ENVELOPE.value
    DECRYPT_FAILED = KeyCode.DECRYPT_FAILED.value
    INVALID_ARGUMENT = KeyCode.INVALID_ARGUMENT.value
    INVALID_OPERATION = KeyCode.INVALID_OPERATION.value
    MISMATCH = ReasonCode.KEYS_MISMATCH.value

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):  # survives pickling (raised in worker processes)
        return type(self), (self.code, self.message)


def _err(code: str, message: str) -> KeyringError:
    return KeyringError(code, message)


# --------------------------------------------------------------------------- the port


@runtime_checkable
class KeyringPort(Protocol):
    """What the registry needs from a keyring.  :class:`Keyring` implements it
    from a local file; a KMS-backed implementation must keep the same envelope
    and blind-index formats (see docs/design/keys.md, "A KMS implementation")."""

    @property
    def active_encryption_key_id(self) -> str: ...

    @property
    def active_index_key_id(self) -> str: ...

    def key_ids(self) -> dict[str, list[str]]: ...

    def fingerprint(self) -> str: ...

    def blind_index(self, value: str, *, purpose: str) -> str: ...

    def blind_indexes(self, value: str, *, purpose: str) -> list[str]: ...

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> str: ...

    def decrypt(self, envelope: str, *, aad: bytes) -> bytes: ...

    def new_data_key(self) -> tuple[bytes, str]: ...

    def unwrap_data_key(self, wrapped: str) -> bytes: ...


# --------------------------------------------------------------------------- encoding helpers


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes | None:
    """Strict, canonical unpadded base64url; None for anything else."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if _b64url(data) == text else None   # rejects non-zero trailing bits


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise _err(KeyringError.INVALID_ARGUMENT, f"{what} must be bytes")


def _full_aad(key_id: str, aad: bytes) -> bytes:
    return _ENVELOPE_DOMAIN + key_id.encode("ascii") + b"\x00" + aad


def _parse_envelope(envelope: object) -> tuple[str, bytes, bytes]:
    """(key id, nonce, ciphertext+tag) of a v1 envelope, or BAD_ENVELOPE."""
    if not isinstance(envelope, str):
        raise _err(KeyringError.BAD_ENVELOPE, "an envelope must be text")
    parts = envelope.split(".")
    if len(parts) != 4 or parts[0] != ENVELOPE_VERSION:
        raise _err(KeyringError.BAD_ENVELOPE, "not a v1 envelope (v1.<key id>.<nonce>.<ciphertext>)")
    _, key_id, nonce_text, body_text = parts
    if not _KEY_ID.fullmatch(key_id):
        raise _err(KeyringError.BAD_ENVELOPE, "envelope key id is malformed")
    nonce = _unb64url(nonce_text)
    body = _unb64url(body_text)
    if nonce is None or len(nonce) != NONCE_BYTES:
        raise _err(KeyringError.BAD_ENVELOPE, "envelope nonce is not 12 bytes of base64url")
    if body is None or len(body) < TAG_BYTES:
        raise _err(KeyringError.BAD_ENVELOPE, "envelope ciphertext is not base64url with a tag")
    return key_id, nonce, body


def envelope_key_id(envelope: str) -> str:
    """The key id an envelope names (no decryption); BAD_ENVELOPE if malformed.
    Lets a re-encryption job skip rows already under the active key."""
    return _parse_envelope(envelope)[0]


def _seal(aead: AESGCM, key_id: str, plaintext: bytes, aad: bytes) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = aead.encrypt(nonce, plaintext, _full_aad(key_id, aad))
    return f"{ENVELOPE_VERSION}.{key_id}.{_b64url(nonce)}.{_b64url(body)}"


def _open(aead: AESGCM, key_id: str, nonce: bytes, body: bytes, aad: bytes) -> bytes:
    try:
        return aead.decrypt(nonce, body, _full_aad(key_id, aad))
    except InvalidTag:
        raise _err(KeyringError.DECRYPT_FAILED,
                   f"envelope under key {key_id} did not authenticate "
                   "(wrong key or aad, or the ciphertext was altered)") from None


# --------------------------------------------------------------------------- per-subject data keys


def seal(dek: bytes, plaintext: bytes, aad: bytes) -> str:
    """Encrypt ``plaintext`` under a raw 32-byte data key (from
    :meth:`Keyring.new_data_key`); envelope key id ``dek``."""
    dek = _as_bytes(dek, "a data key")
    if len(dek) != KEY_BYTES:
        raise _err(KeyringError.INVALID_ARGUMENT, "a data key must be 32 bytes")
    return _seal(AESGCM(dek), DEK_KEY_ID, _as_bytes(plaintext, "plaintext"), _as_bytes(aad, "aad"))


def open_sealed(dek: bytes, envelope: str, aad: bytes) -> bytes:
    """Decrypt what :func:`seal` made.  DECRYPT_FAILED for a wrong DEK or aad or
    any tampering; BAD_ENVELOPE if it is not a ``dek`` envelope."""
    dek = _as_bytes(dek, "a data key")
    if len(dek) != KEY_BYTES:
        raise _err(KeyringError.INVALID_ARGUMENT, "a data key must be 32 bytes")
    key_id, nonce, body = _parse_envelope(envelope)
    if key_id != DEK_KEY_ID:
        raise _err(KeyringError.BAD_ENVELOPE,
                   f"envelope is under keyring key {key_id}, not a data key; use Keyring.decrypt")
    return _open(AESGCM(dek), DEK_KEY_ID, nonce, body, _as_bytes(aad, "aad"))


# --------------------------------------------------------------------------- the keyring


class _Key:
    """One key.  Its bytes never reach repr, str or an exception message."""

    __slots__ = ("created", "key_id", "secret")

    def __init__(self, key_id: str, secret: bytes, created: str):
        self.key_id = key_id
        self.secret = secret
        self.created = created

    def __repr__(self) -> str:
        return f"<key {self.key_id}>"


def _new_key_id(prefix: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    while True:
        candidate = prefix + secrets.token_hex(4)
        if candidate not in taken:
            return candidate


def _check_value(kind: str, key: _Key) -> str:
    # A keyed PRF of a constant: reveals nothing about the key, and unlike the
    # classic AES key check value it never exposes E_K(0^128), which for a GCM
    # key is the GHASH key H.
    msg = _CHECK_DOMAIN + kind.encode("ascii") + b"\x00" + key.key_id.encode("ascii")
    return hmac.new(key.secret, msg, hashlib.sha256).hexdigest()[:16]


class Keyring:
    """Data-encryption keys and blind-index keys, each with a key id; one active
    of each kind, older ones kept for decrypting and for lookups.  Immutable."""

    __slots__ = ("_active_enc", "_active_idx", "_aeads", "_enc", "_idx")

    def __init__(self, encryption_keys: list[_Key], active_encryption: str,
                 index_keys: list[_Key], active_index: str):
        """Use :meth:`generate`, :meth:`load`, :meth:`from_env` or :meth:`load_or_create`."""
        self._enc = {k.key_id: k for k in encryption_keys}          # insertion order = age
        self._idx = {k.key_id: k for k in index_keys}
        self._active_enc = active_encryption
        self._active_idx = active_index
        self._validate()
        self._aeads = {kid: AESGCM(k.secret) for kid, k in self._enc.items()}

    def _validate(self) -> None:
        bad = KeyringError.UNREADABLE
        if not self._enc or not self._idx:
            raise _err(bad, "a keyring needs at least one encryption and one index key")
        ids = [*self._enc, *self._idx]
        if len(set(ids)) != len(ids):
            raise _err(bad, "key ids must be unique across encryption and index keys")
        for kid in ids:
            if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid) or kid == DEK_KEY_ID:
                raise _err(bad, "key ids must be 1-32 of [A-Za-z0-9_-] and not 'dek'")
        for k in [*self._enc.values(), *self._idx.values()]:
            if not isinstance(k.secret, bytes) or len(k.secret) != KEY_BYTES:
                raise _err(bad, f"key {k.key_id} is not {KEY_BYTES} bytes")
        if self._active_enc not in self._enc:
            raise _err(bad, "the active encryption key id is not among the encryption keys")
        if self._active_idx not in self._idx:
            raise _err(bad, "the active index key id is not among the index keys")

    # ----------------------------------------------------------------- construction

    @classmethod
    def generate(cls) -> Keyring:
        """A fresh keyring: one encryption key ``k…`` and one index key ``i…``
        (8 random hex digits after the prefix)."""
        created = _now()
        enc = _Key(_new_key_id("k", ()), secrets.token_bytes(KEY_BYTES), created)
        idx = _Key(_new_key_id("i", ()), secrets.token_bytes(KEY_BYTES), created)
        return cls([enc], enc.key_id, [idx], idx.key_id)

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Parse the keyring file format (see docs/design/keys.md)."""
        bad = KeyringError.UNREADABLE
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise _err(bad, "keyring is not JSON") from None
        if not isinstance(doc, dict) or set(doc) != _FILE_FIELDS:
            raise _err(bad, f"keyring must have exactly the fields {sorted(_FILE_FIELDS)}")
        if doc["format"] != FORMAT:
            raise _err(bad, f"unknown keyring format (expected {FORMAT})")
        kinds = {}
        for kind in ("encryption", "index"):
            section = doc[kind]
            if not isinstance(section, dict) or set(section) != _KIND_FIELDS:
                raise _err(bad, f"keyring '{kind}' must have exactly the fields {sorted(_KIND_FIELDS)}")
            entries = section["keys"]
            if not isinstance(entries, list) or not entries:
                raise _err(bad, f"keyring '{kind}.keys' must be a non-empty list")
            keys = []
            for n, entry in enumerate(entries):
                if not isinstance(entry, dict) or not {"id", "key"} <= set(entry) \
                        or not set(entry) <= {"id", "key", "created"}:
                    raise _err(bad, f"keyring '{kind}.keys[{n}]' must have id, key and optional created")
                kid, secret_text, created = entry["id"], entry["key"], entry.get("created", "")
                if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid):
                    raise _err(bad, f"keyring '{kind}.keys[{n}].id' is malformed")
                secret = _unb64url(secret_text) if isinstance(secret_text, str) else None
                if secret is None:
                    raise _err(bad, f"key {kid} is not unpadded base64url")
                if not isinstance(created, str):
                    raise _err(bad, f"key {kid}: 'created' must be text")
                keys.append(_Key(kid, secret, created))
            if len({k.key_id for k in keys}) != len(keys):
                raise _err(bad, f"keyring '{kind}' repeats a key id")
            if not isinstance(section["active"], str):
                raise _err(bad, f"keyring '{kind}.active' must be a key id")
            kinds[kind] = (keys, section["active"])
        return cls(kinds["encryption"][0], kinds["encryption"][1],
                   kinds["index"][0], kinds["index"][1])

    @classmethod
    def load(cls, path: Path | str, *, allow_insecure_permissions: bool = False) -> Keyring:
        """Read a keyring file.

        On POSIX the file must not be writable by group or others (always
        refused: ``KEYS.PERMISSIONS``) and not readable by them (refused unless
        ``allow_insecure_permissions``, which only logs a warning).  Fix with
        ``chmod 600 FILE``.  ``KEYS.MISSING`` if absent, ``KEYS.UNREADABLE`` if
        it cannot be read or parsed."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                _check_permissions(path, os.fstat(fh.fileno()), allow_insecure_permissions)
                data = fh.read()
        except FileNotFoundError:
            raise _err(KeyringError.MISSING, f"no keyring file at {path}") from None
        except IsADirectoryError:
            raise _err(KeyringError.UNREADABLE, f"{path} is a directory, not a keyring file") from None
        except OSError as exc:
            raise _err(KeyringError.UNREADABLE,
                       f"cannot read keyring file {path} ({exc.strerror or type(exc).__name__})") from None
        try:
            return cls.from_json(data)
        except KeyringError as exc:
            raise _err(exc.code, f"{path}: {exc.message}") from None

    @classmethod
    def from_env(cls, value: str | None) -> Keyring:
        """A keyring from an environment variable's value: the file's JSON, or
        base64 (standard or url-safe, padding optional) of it."""
        if value is None or not value.strip():
            raise _err(KeyringError.MISSING, "the keyring environment variable is empty or unset")
        text = value.strip()
        if not text.startswith("{"):
            compact = re.sub(r"\s+", "", text).rstrip("=")
            std = compact.translate(str.maketrans("-_", "+/"))
            try:
                if not re.fullmatch(r"[A-Za-z0-9+/]+", std):
                    raise ValueError
                text = base64.b64decode(std + "=" * (-len(std) % 4), validate=True).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise _err(KeyringError.UNREADABLE,
                           "keyring variable is neither JSON nor base64 of it") from None
        try:
            return cls.from_json(text)
        except KeyringError as exc:
            raise _err(exc.code, f"keyring variable: {exc.message}") from None

    @classmethod
    def load_or_create(cls, path: Path | str) -> Keyring:
        """Load ``path``, or create it with a fresh keyring if it does not exist
        (the embedded dev default).  Safe when several processes start at once:
        the file is created exclusively, and a loser loads the winner's keys."""
        path = Path(path)
        try:
            return cls.load(path)
        except KeyringError as exc:
            if exc.code != KeyringError.MISSING:
                raise
        ring = cls.generate()
        if ring._write(path, exclusive=True):
            log.info("created a new keyring", extra={"keyring_path": str(path),
                                                    "key_fingerprint": ring.fingerprint()})
            return ring
        return cls.load(path)   # someone else created it first

    # ----------------------------------------------------------------- persistence

    def to_json(self) -> str:
        """The keyring file's JSON.  SECRET: it holds every key."""
        def section(keys: dict[str, _Key], active: str) -> dict:
            return {"active": active,
                    "keys": [{"id": k.key_id, "key": _b64url(k.secret), "created": k.created}
                             for k in keys.values()]}
        doc = {"format": FORMAT, "encryption": section(self._enc, self._active_enc),
               "index": section(self._idx, self._active_idx)}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    def to_env(self) -> str:
        """Base64url of :meth:`to_json`, for ``SIMREG_KEYRING``-style variables.  SECRET."""
        return base64.urlsafe_b64encode(self.to_json().encode("utf-8")).decode("ascii")

    def save(self, path: Path | str) -> None:
        """Write atomically (temp file in the same directory, fsync, rename)
        with mode 0600, replacing any existing file.  The directory is created
        with mode 0700 if missing."""
        self._write(Path(path), exclusive=False)

    def _write(self, path: Path, *, exclusive: bool) -> bool:
        """Write the file; False if ``exclusive`` and it already exists."""
        data = self.to_json().encode("utf-8")
        tmp_name = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                if hasattr(os, "fchmod"):
                    os.fchmod(fh.fileno(), 0o600)   # mkstemp makes 0600 already; be explicit
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                try:
                    os.link(tmp_name, path)         # atomic, never overwrites
                except FileExistsError:
                    return False
                except OSError:                      # no hard links here: O_EXCL create
                    try:
                        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    except FileExistsError:
                        return False
                    with os.fdopen(out, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
            else:
                os.replace(tmp_name, path)
                tmp_name = None
            _fsync_dir(path.parent)
            return True
        except OSError as exc:
            raise _err(KeyringError.WRITE_FAILED,
                       f"cannot write keyring file {path} ({exc.strerror or type(exc).__name__})") from None
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)

    # ----------------------------------------------------------------- introspection

    @property
    def active_encryption_key_id(self) -> str:
        return self._active_enc

    @property
    def active_index_key_id(self) -> str:
        return self._active_idx

    def key_ids(self) -> dict[str, list[str]]:
        """``{"encryption": [...], "index": [...]}``, oldest first."""
        return {"encryption": list(self._enc), "index": list(self._idx)}

    def check_values(self) -> dict[str, str]:
        """Key id -> 16-hex check value (HMAC-SHA256 of a constant under that
        key).  Not secret.  Store them beside the data to detect a keyring
        that reuses a key id for a different key (:meth:`verify_check_values`)."""
        out = {kid: _check_value("encryption", k) for kid, k in self._enc.items()}
        out.update({kid: _check_value("index", k) for kid, k in self._idx.items()})
        return out

    def fingerprint(self) -> str:
        """A non-secret check value of the whole keyring: ``"kc1:"`` + 16 hex of
        SHA-256 over every key's check value (sorted by key id).  Any change of
        keys (including :meth:`rotate`) changes it; compare
        :meth:`check_values` when you want to tolerate rotation."""
        items = sorted(self.check_values().items())
        digest = hashlib.sha256("\n".join(f"{k}={v}" for k, v in items).encode("ascii"))
        return "kc1:" + digest.hexdigest()[:16]

    def verify_check_values(self, stored: Mapping[str, str]) -> None:
        """Raise unless every key id in ``stored`` (check values recorded when
        data was written) is held here with the same check value.  Extra keys
        here are fine (added by rotation).  ``KEYS.UNKNOWN_KEY`` for a missing
        key id, ``KEYS.MISMATCH`` when an id names a different key."""
        mine = self.check_values()
        for kid, value in stored.items():
            if kid not in mine:
                raise _err(KeyringError.UNKNOWN_KEY,
                           f"data was written with key {kid}, which this keyring does not hold")
            if not hmac.compare_digest(mine[kid], str(value)):
                raise _err(KeyringError.MISMATCH,
                           f"key {kid} in this keyring differs from the one the data was written with")

    def __repr__(self) -> str:
        return (f"Keyring(encryption={list(self._enc)}, active_encryption={self._active_enc!r}, "
                f"index={list(self._idx)}, active_index={self._active_idx!r}, "
                f"fingerprint={self.fingerprint()!r})")

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keyring):
            return NotImplemented
        return (self.fingerprint() == other.fingerprint()
                and self._active_enc == other._active_enc and self._active_idx == other._active_idx)

    __hash__ = None  # type: ignore[assignment]  # unhashable, as a class with __eq__ is by default

    def __reduce__(self):
        # Pickling would copy every key into whatever the pickle reaches
        # (a queue, a cache, a crash dump).  Pass to_json() explicitly if you must.
        raise TypeError("a Keyring is not picklable; pass Keyring.to_json() deliberately if needed")

    # ----------------------------------------------------------------- blind indexes

    def blind_index(self, value: str, *, purpose: str) -> str:
        """``"<active index key id>:<64 hex>"``: HMAC-SHA256 of the domain-separated
        ``purpose`` and ``value`` (UTF-8, used as given: pass the canonical form).
        ``purpose`` is ``[a-z][a-z0-9_]{0,31}``, e.g. ``"id_number"``, ``"phone"``."""
        return self._index_under(self._idx[self._active_idx], value, purpose)

    def blind_indexes(self, value: str, *, purpose: str) -> list[str]:
        """The blind index under every index key, active first, then newest to
        oldest: look rows up with ``WHERE idx IN (...)``."""
        order = [self._active_idx] + [kid for kid in reversed(self._idx) if kid != self._active_idx]
        return [self._index_under(self._idx[kid], value, purpose) for kid in order]

    @staticmethod
    def _index_under(key: _Key, value: str, purpose: str) -> str:
        if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
            raise _err(KeyringError.INVALID_ARGUMENT, "purpose must match [a-z][a-z0-9_]{0,31}")
        if not isinstance(value, str) or not value:
            raise _err(KeyringError.INVALID_ARGUMENT, "a blind index needs a non-empty text value")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise _err(KeyringError.INVALID_ARGUMENT, "value is not encodable as UTF-8") from None
        msg = _INDEX_DOMAIN + purpose.encode("ascii") + b"\x00" + data
        return f"{key.key_id}:{hmac.new(key.secret, msg, hashlib.sha256).hexdigest()}"

    # ----------------------------------------------------------------- envelopes

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> str:
        """AES-256-GCM under the active encryption key, random 96-bit nonce:
        ``"v1.<key id>.<nonce>.<ciphertext+tag>"``.  ``aad`` (e.g.
        ``b"registration:<id>:id_number"``) must be given again to decrypt."""
        kid = self._active_enc
        return _seal(self._aeads[kid], kid, _as_bytes(plaintext, "plaintext"), _as_bytes(aad, "aad"))

    def decrypt(self, envelope: str, *, aad: bytes) -> bytes:
        """Open an envelope made under any key in this keyring.  BAD_ENVELOPE,
        UNKNOWN_KEY (incl. ``dek`` envelopes: use :func:`open_sealed`), or
        DECRYPT_FAILED (wrong aad, altered ciphertext, different key)."""
        key_id, nonce, body = _parse_envelope(envelope)
        aad = _as_bytes(aad, "aad")
        aead = self._aeads.get(key_id)
        if aead is None:
            hint = " (sealed with a per-subject data key)" if key_id == DEK_KEY_ID else ""
            raise _err(KeyringError.UNKNOWN_KEY, f"no encryption key {key_id} in this keyring{hint}")
        return _open(aead, key_id, nonce, body, aad)

    def reencrypt(self, envelope: str, *, aad: bytes) -> str:
        """The same plaintext under the active key (unchanged if already there).
        For ``keys rotate``: the plaintext never leaves this method."""
        if envelope_key_id(envelope) == self._active_enc:
            self.decrypt(envelope, aad=aad)     # still authenticate it
            return envelope
        return self.encrypt(self.decrypt(envelope, aad=aad), aad=aad)

    def new_data_key(self) -> tuple[bytes, str]:
        """A fresh 32-byte per-subject data key and the same key wrapped
        (encrypted under the active encryption key with aad ``b"dek"``).
        Store only the wrapped form; deleting it crypto-shreds all that was
        :func:`seal`-ed with the key."""
        dek = secrets.token_bytes(KEY_BYTES)
        return dek, self.encrypt(dek, aad=DEK_AAD)

    def unwrap_data_key(self, wrapped: str) -> bytes:
        """The raw data key inside ``wrapped`` (see :meth:`new_data_key`)."""
        dek = self.decrypt(wrapped, aad=DEK_AAD)
        if len(dek) != KEY_BYTES:
            raise _err(KeyringError.DECRYPT_FAILED, "wrapped data key does not hold a 32-byte key")
        return dek

    # ----------------------------------------------------------------- rotation

    def rotate(self) -> Keyring:
        """A new keyring with a new active encryption key and a new active index
        key; all old keys are kept (old envelopes decrypt, old blind indexes
        appear in :meth:`blind_indexes`).  ``self`` is unchanged."""
        created = _now()
        taken = [*self._enc, *self._idx]
        enc = _Key(_new_key_id("k", taken), secrets.token_bytes(KEY_BYTES), created)
        idx = _Key(_new_key_id("i", [*taken, enc.key_id]), secrets.token_bytes(KEY_BYTES), created)
        return Keyring([*self._enc.values(), enc], enc.key_id, [*self._idx.values(), idx], idx.key_id)

    def without_key(self, key_id: str) -> Keyring:
        """A new keyring without ``key_id``: retire a key once no envelope or
        blind index uses it any more.  The active keys cannot be removed."""
        if key_id in (self._active_enc, self._active_idx):
            raise _err(KeyringError.INVALID_OPERATION, f"key {key_id} is active; rotate first")
        if key_id not in self._enc and key_id not in self._idx:
            raise _err(KeyringError.UNKNOWN_KEY, f"no key {key_id} in this keyring")
        return Keyring([k for kid, k in self._enc.items() if kid != key_id], self._active_enc,
                       [k for kid, k in self._idx.items() if kid != key_id], self._active_idx)


# --------------------------------------------------------------------------- file helpers


def _check_permissions(path: Path, st: os.stat_result, allow_insecure: bool) -> None:
    if os.name != "posix" or not stat.S_ISREG(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise _err(KeyringError.PERMISSIONS,
                   f"keyring file {path} is writable by group or others (mode {mode:o}); "
                   f"run: chmod 600 {path}")
    if mode & 0o044:
        if not allow_insecure:
            raise _err(KeyringError.PERMISSIONS,
                       f"keyring file {path} is readable by group or others (mode {mode:o}); "
                       f"run: chmod 600 {path}")
        log.warning("keyring file is readable by group or others",
                    extra={"keyring_path": str(path), "mode": f"{mode:o}"})


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

