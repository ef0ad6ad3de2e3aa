"""Ports: what the use cases (``simreg.app``) need from the outside world.
Adapters implement them; ``simreg.runtime`` wires one to each.

* faces: :class:`FaceDetector`, :class:`Landmarker`, :class:`Embedder`, and the
  engine as the use cases see it, :class:`FaceAnalyser`;
* storage: :class:`RegistryPort` (persons, numbers, registrations, attempts,
  idempotency), :class:`SessionsPort`, :class:`CitizenDeskPort`;
* keys and proofs: :class:`BlindIndexer` (the keyring's blind index),
  :class:`ReceiptIssuer` (where a decision sits in the audit log, signed);
* time: :data:`Clock`.

Tests implement the storage ports in memory (tests/memory_ports.py) to check the
use cases without a database or models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .domain.access import Clerk
from .domain.challenge import Challenge
from .domain.errors import SimregError
from .domain.media import ImageLimits
from .domain.numbers import NumberState
from .domain.policy import DetectionRules, Policy, TrackingParams
from .domain.records import DecisionRecord, Recorded, Stamp
from .domain.types import Embedding, FaceAnalysis, FaceBox, FaceTrack, Landmarks


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in an RGB uint8 image.  Boxes are in that image's pixels,
    sorted best first by ``score``."""

    model_id: str

    def detect(self, image: np.ndarray) -> Sequence[FaceBox]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Places landmarks of one scheme (``ibug68``, ``dlib5``) inside a face box."""

    model_id: str
    scheme: str

    def landmarks(self, image: np.ndarray, box: FaceBox) -> Landmarks: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns one face into a descriptor (:class:`Embedding`, which names the
    metric its descriptors are compared with)."""

    model_id: str

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None) -> Embedding: ...


class FaceAnalyser(Protocol):
    """The face engine as the use cases see it: analyses of images (the subject
    face: box, landmarks, quality, embeddings) and the subject's track through a
    video.  Two adapters implement it (``simreg.adapters.faces``): ``FaceEngine``
    in the calling process and ``EnginePool`` over worker processes."""

    model_ids: tuple[str, ...]

    def decode_image(self, data: bytes, limits: ImageLimits) -> np.ndarray:
        """An uploaded image (bytes) as RGB uint8 within ``limits``; ``InputError`` with a
        ``MEDIA.*`` code when it is not one."""
        ...

    def track_video(self, data: bytes, limits, rules: DetectionRules, policy: Policy | None = None,
                    mirrored: bool = False, tracking: TrackingParams | None = None) -> VideoTrack:
        """Decode a video (bytes) and track the subject's face through it (by
        ``tracking``, else the policy's, else the defaults); with a ``policy``,
        also analyse the best frontal frame (``VideoTrack.live_face``)."""
        ...

    def analyse_with_video(self, image: np.ndarray, video: bytes, limits, policy: Policy,
                           mirrored: bool = False) -> tuple[FaceAnalysis | SimregError, VideoTrack | None]:
        """The portrait's analysis (or its error) and the video's track with its
        live face, computed at once where the implementation can (the track may be
        ``None`` when the portrait was refused)."""
        ...

    def analyse(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis]:
        """One analysis per image; raises the first image's error."""
        ...

    def analyse_each(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis | SimregError]:
        """One analysis or error per image (errors are returned, not raised)."""
        ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VideoTrack:
    """What :meth:`FaceAnalyser.track_video` returns."""

    track: FaceTrack
    info: object                  # adapters.video.VideoInfo
    timings_ms: dict
    # the best frontal frame's full analysis (all embedders), or why there is none;
    # None when not asked for
    live_face: FaceAnalysis | SimregError | None = None


#: Now, timezone-aware (UTC).
Clock = Callable[[], datetime]


class BlindIndexer(Protocol):
    """The keyring as the use cases see it: a keyed hash that finds a value without storing it."""

    def blind_index(self, value: str, purpose: str) -> str: ...


class SessionsPort(Protocol):
    """Capture sessions: one challenge per registration attempt, bound to a clerk."""

    def create(self, challenge: Challenge, clerk: Clerk, model_ids: tuple[str, ...] = (),
               policy_sha256: str = ...) -> str: ...

    def peek(self, session_id: str, clerk: Clerk, now: datetime) -> Challenge:
        """The challenge if ``clerk`` may use the session now (not yet used); raises otherwise."""
        ...


class RegistryPort(Protocol):
    """The registry as the registration use case sees it.  Every change is written
    with its audit entry in one transaction; a failure leaves nothing behind."""

    def id_index(self, holder_key: str) -> str: ...

    def id_indexes(self, holder_key: str) -> list[str]:
        """The blind indexes of an ID under every key still in the keyring."""
        ...

    def failures(self, id_index_values: Sequence[str], clerk_id: str,
                 since: datetime) -> tuple[list[datetime], list[datetime]]:
        """Failed attempts since ``since``: (for this ID, by this clerk)."""
        ...

    def held_numbers(self, holder_key: str) -> int:
        """Numbers registered under this ID now (active, reserved or suspended)."""
        ...

    def check_number_available(self, e164: str | None, now: datetime) -> None:
        """Raise unless the asked-for number (or, with ``None``, some number) can be registered."""
        ...

    def claim_idempotency(self, clerk_id: str, key: str, digest: str, now: datetime,
                          stale_after: timedelta = ...) -> dict | None:
        """Claim ``key`` for a new request, or return the stored response of a finished one."""
        ...

    def release_idempotency(self, clerk_id: str, key: str, claimed_at: datetime) -> None: ...

    def record_failed_attempt(self, id_index: str, clerk: Clerk, reason: str, stamp: Stamp,
                              now: datetime) -> None: ...

    def record_event(self, actor: str, subject: str, action: str, details: Mapping[str, Any], stamp: Stamp,
                     now: datetime) -> None: ...

    def record_decision(self, record: DecisionRecord,
                        response_of: Callable[[Recorded], Any] | None = None) -> Recorded:
        """Use the session, check the quota again under the person's lock, take a number,
        and write the decision with its audit entry, all or nothing."""
        ...

    # used by the review and number routes (http/registrations.py) through the service
    def review(self, registration_id: str, supervisor: Clerk, approve: bool, reason: str, stamp: Stamp,
               now: datetime) -> dict: ...

    def add_numbers(self, e164_numbers: Sequence[str], actor: str, stamp: Stamp, now: datetime) -> int: ...

    def set_number_state(self, e164: str, target: NumberState, actor: str, reason: str, stamp: Stamp,
                         now: datetime) -> dict: ...


class CitizenDeskPort(Protocol):
    """The citizen's lookup of the numbers under their ID, disputes and consent withdrawal."""

    def record_lookup(self, *, holder_key: str, clerk: Clerk, session_id: str, session_checked_at: datetime,
                      passed: bool, reasons: list[str], stamp: Stamp, now: datetime) -> dict: ...

    def raise_dispute(self, token: str, number_ref: str, clerk: Clerk, stamp: Stamp, now: datetime) -> dict: ...

    def withdraw_consent(self, token: str, clerk: Clerk, stamp: Stamp, now: datetime) -> dict: ...

    def open_disputes(self, outlet_id: str) -> list[dict]: ...

    def resolve_dispute(self, dispute_id: str, supervisor: Clerk, upheld: bool, note: str, stamp: Stamp,
                        now: datetime) -> dict: ...


class ReceiptIssuer(Protocol):
    """A decision's receipt: where its entry sits in the audit log and the signed
    tree head that includes it (or, on a sharded log, how to fetch it once sequenced)."""

    def receipt(self, recorded: Recorded) -> dict: ...
