"""Ed25519 signed checkpoints of the audit log (``cryptography`` package).

A :class:`Checkpoint` says "the log's first ``size`` entries have the RFC 6962
Merkle root ``root_hash``", timestamped and signed.  The signed message is

    b"simreg-checkpoint/v1\\n" + size + "\\n" + root_hash + "\\n" + timestamp + "\\n" + key_id

(ASCII; ``size`` in decimal without leading zeros, ``root_hash`` 64 lowercase
hex, ``timestamp`` ISO-8601 UTC, ``key_id`` 16 lowercase hex).  Every part has
a fixed form and none can hold a newline, so one message has one reading.
A key's id is the first 16 hex digits of SHA-256 over its 32 raw public bytes.

Checking a checkpoint against the log is :func:`simreg.domain.audit.verify_against_checkpoint`,
after :func:`verify_checkpoint` here has said the signature is good.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..domain.audit import as_utc_timestamp

FORMAT = "simreg-checkpoint/v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_JSON_FIELDS = {"format", "size", "root_hash", "timestamp", "key_id", "signature"}


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log's size and Merkle root at one time."""

    size: int          # entries covered: positions 0 .. size-1
    root_hash: str     # RFC 6962 root over their entry hashes, 64 lowercase hex
    timestamp: str     # ISO-8601 UTC, when it was signed
    key_id: str        # 16 lowercase hex, see key_id()
    signature: str     # Ed25519 signature of signed_message(), standard base64

    def signed_message(self) -> bytes:
        return checkpoint_message(self.size, self.root_hash, self.timestamp, self.key_id)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace) with a ``format`` tag."""
        doc = {"format": FORMAT, "size": self.size, "root_hash": self.root_hash,
               "timestamp": self.timestamp, "key_id": self.key_id, "signature": self.signature}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Parse :meth:`to_json` output; ``ValueError`` for anything else (unknown
        format or fields, malformed values).  The signature is not checked here."""
        try:
            doc = json.loads(text)
        except ValueError:
            raise ValueError("checkpoint is not JSON") from None
        if not isinstance(doc, dict) or set(doc) != _JSON_FIELDS:
            raise ValueError(f"checkpoint must have exactly the fields {sorted(_JSON_FIELDS)}")
        if doc["format"] != FORMAT:
            raise ValueError(f"unknown checkpoint format {doc['format']!r}")
        cp = cls(doc["size"], doc["root_hash"], doc["timestamp"], doc["key_id"], doc["signature"])
        problem = _format_problem(cp)
        if problem:
            raise ValueError(problem)
        return cp


# --- keys ----------------------------------------------------------------------------------


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``password`` when one is given."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def load_private_key(data: bytes | str, password: bytes | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM or its 32-byte raw seed."""
    if isinstance(data, (bytes, bytearray)) and len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(bytes(data))
    pem = data.encode("ascii") if isinstance(data, str) else bytes(data)
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_to_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """SubjectPublicKeyInfo PEM of the public key (of a private key's pair)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_to_raw(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of the public key (RFC 8032 encoding)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(data: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object, its 32 raw bytes, or PEM
    (bytes or str).  ``ValueError`` for anything else."""
    if isinstance(data, Ed25519PublicKey):
        return data
    if isinstance(data, (bytes, bytearray)) and len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(bytes(data))
    if isinstance(data, str):
        data = data.encode("ascii")
    if not isinstance(data, (bytes, bytearray)) or b"-----BEGIN" not in data:
        raise ValueError("a public key must be 32 raw bytes or PEM")
    key = serialization.load_pem_public_key(bytes(data))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey | bytes | str) -> str:
    """First 16 hex digits of SHA-256 over the 32 raw public key bytes."""
    pub = key if isinstance(key, Ed25519PrivateKey) else load_public_key(key)
    return hashlib.sha256(public_key_to_raw(pub)).hexdigest()[:16]


_key_id_of = key_id  # for functions whose ``key_id`` parameter shadows the name


# --- checkpoints ---------------------------------------------------------------------------


def checkpoint_message(size: int, root_hash: str, timestamp: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint's signature covers (see module docstring)."""
    return f"{FORMAT}\n{size}\n{root_hash}\n{timestamp}\n{key_id}".encode("ascii")


def sign_checkpoint(private_key: Ed25519PrivateKey, size: int, root: bytes | str,
                    timestamp: str | datetime, key_id: str | None = None) -> Checkpoint:
    """Sign "the first ``size`` entries have Merkle root ``root``" (raw 32 bytes or
    hex).  ``key_id`` defaults to the key's own id; a different one is refused.
    Verify the log (``verify_chain``) before signing its root."""
    own_id = _key_id_of(private_key)
    if key_id is not None and key_id != own_id:
        raise ValueError(f"key id {key_id!r} is not this key's ({own_id})")
    root_hex = root.hex() if isinstance(root, (bytes, bytearray)) else root
    unsigned = Checkpoint(size, root_hex, as_utc_timestamp(timestamp), own_id, "")
    problem = _format_problem(unsigned, check_signature=False)
    if problem:
        raise ValueError(problem)
    signature = private_key.sign(unsigned.signed_message())
    return Checkpoint(size, root_hex, unsigned.timestamp, own_id,
                      base64.b64encode(signature).decode("ascii"))


def verify_checkpoint(public_key: Ed25519PublicKey | bytes | str, checkpoint: Checkpoint) -> bool:
    """True only if ``checkpoint`` is well formed, names this key, and its
    signature is good.  Raises ``ValueError`` only for an unusable ``public_key``
    (a configuration fault), never for a bad checkpoint."""
    pub = load_public_key(public_key)
    if _format_problem(checkpoint) or checkpoint.key_id != key_id(pub):
        return False
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        pub.verify(signature, checkpoint.signed_message())
    except InvalidSignature:
        return False
    return True


def _format_problem(cp: Checkpoint, check_signature: bool = True) -> str:
    """Why ``cp`` is not well formed ("" if it is)."""
    if isinstance(cp.size, bool) or not isinstance(cp.size, int) or cp.size < 0:
        return "checkpoint size must be a non-negative integer"
    if not isinstance(cp.root_hash, str) or not _HEX64.fullmatch(cp.root_hash):
        return "checkpoint root_hash must be 64 lowercase hex digits"
    try:
        if as_utc_timestamp(cp.timestamp) != cp.timestamp or not cp.timestamp.isascii():
            return "checkpoint timestamp must be ISO-8601 UTC"
    except ValueError as exc:
        return str(exc)
    if not isinstance(cp.key_id, str) or not _KEY_ID.fullmatch(cp.key_id):
        return "checkpoint key_id must be 16 lowercase hex digits"
    if check_signature:
        if not isinstance(cp.signature, str):
            return "checkpoint signature must be base64 text"
        try:
            if len(base64.b64decode(cp.signature, validate=True)) != 64:
                return "checkpoint signature must be 64 bytes"
        except (binascii.Error, ValueError):
            return "checkpoint signature must be standard base64"
    return ""


# --- C2SP signed notes and tlog checkpoints (the sharded log's checkpoints) ------------------
#
# The shards and the root log sign their checkpoints in the format of the
# transparency-dev ecosystem (Certificate Transparency's successors: Trillian,
# Tessera, Rekor v2, the witnesses), so that off-the-shelf tooling can read and
# cosign them: https://c2sp.org/tlog-checkpoint inside https://c2sp.org/signed-note.
#
#   <origin>\n<size>\n<base64 of the 32-byte RFC 6962 root>\n      (the checkpoint text)
#   \n
#   — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>\n
#
# The signature covers the text (every byte before the blank line); the key
# hash is SHA-256(name || "\n" || 0x01 || 32-byte public key)[:4]; the key name
# is the log's origin.  A verifier key is "<name>+<key hash hex>+<base64(0x01 || public key)>".

_NOTE_ALG_ED25519 = b"\x01"
_NOTE_SIG_PREFIX = "\u2014 "  # an em dash and a space
_ORIGIN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces; no '+' (see note_key_hash)


def note_key_hash(name: str, public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes | str) -> bytes:
    """The 4-byte key hash of a signed note's signature line."""
    pub = public_key if isinstance(public_key, Ed25519PrivateKey) else load_public_key(public_key)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _NOTE_ALG_ED25519 + public_key_to_raw(pub)).digest()[:4]


def note_verifier_key(name: str, public_key) -> str:
    """The Go ``note`` package's verifier key string for ``public_key`` under ``name``."""
    pub = public_key if isinstance(public_key, Ed25519PrivateKey) else load_public_key(public_key)
    return (f"{name}+{note_key_hash(name, pub).hex()}+"
            + base64.b64encode(_NOTE_ALG_ED25519 + public_key_to_raw(pub)).decode("ascii"))


def sign_note(private_key: Ed25519PrivateKey, name: str, text: str) -> str:
    """``text`` (non-empty, ending in a newline) signed as a C2SP signed note."""
    if not isinstance(text, str) or not text.endswith("\n") or "\n\n" in text or not _ORIGIN.fullmatch(name) \
            or "+" in name:
        raise ValueError("a note's text must end in one newline and hold no blank line; its key name "
                         "printable ASCII without spaces or '+'")
    sig = private_key.sign(text.encode("utf-8"))
    blob = base64.b64encode(note_key_hash(name, private_key) + sig).decode("ascii")
    return f"{text}\n{_NOTE_SIG_PREFIX}{name} {blob}\n"


def open_note(public_key, name: str, note: str) -> str | None:
    """The text of ``note`` when one of its signatures is ``public_key``'s under
    ``name`` and verifies; ``None`` otherwise (never raises on a bad note)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        return None
    cut = note.rfind("\n\n")
    if cut < 0:
        return None
    text, sig_lines = note[:cut + 1], note[cut + 2:]
    pub = load_public_key(public_key)
    want = note_key_hash(name, pub)
    for line in sig_lines.splitlines():
        if not line.startswith(_NOTE_SIG_PREFIX):
            return None
        parts = line[len(_NOTE_SIG_PREFIX):].split(" ")
        if len(parts) != 2 or parts[0] != name:
            continue
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(blob) != 68 or blob[:4] != want:
            continue
        try:
            pub.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            return None
        return text
    return None


def checkpoint_text(origin: str, size: int, root: bytes | str) -> str:
    """The C2SP tlog-checkpoint body: origin, decimal size, base64 root."""
    raw = bytes.fromhex(root) if isinstance(root, str) else bytes(root)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or len(raw) != 32:
        raise ValueError("a checkpoint needs a size >= 0 and a 32-byte root")
    if not _ORIGIN.fullmatch(origin) or "+" in origin:
        raise ValueError("the origin must be printable ASCII without spaces or '+'")
    return f"{origin}\n{size}\n{base64.b64encode(raw).decode('ascii')}\n"


def parse_checkpoint_text(text: str) -> tuple[str, int, str]:
    """(origin, size, root hex) of a checkpoint body; ``ValueError`` when malformed.
    Extension lines after the root are allowed and ignored, as C2SP says."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not re.fullmatch(r"0|[1-9][0-9]{0,19}", lines[1]):
        raise ValueError("not a tlog checkpoint")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the checkpoint's root is not base64") from None
    if len(root) != 32:
        raise ValueError("the checkpoint's root is not 32 bytes")
    return lines[0], int(lines[1]), root.hex()


def sign_log_checkpoint(private_key: Ed25519PrivateKey, origin: str, size: int, root: bytes | str) -> str:
    """A signed C2SP checkpoint note of the log ``origin``, the key named by the origin."""
    return sign_note(private_key, origin, checkpoint_text(origin, size, root))


def open_log_checkpoint(public_key, note: str, origin: str) -> tuple[int, str] | None:
    """(size, root hex) of a checkpoint note of log ``origin`` signed by
    ``public_key``; ``None`` when the signature, the origin or the body is wrong."""
    text = open_note(public_key, origin, note)
    if text is None:
        return None
    try:
        got_origin, size, root = parse_checkpoint_text(text)
    except ValueError:
        return None
    return (size, root) if got_origin == origin else None
