"""What the app and the CLI build at start-up: settings, policy, face engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from .adapters.receipts import SignedReceipts
from .adapters.sql.citizen import CitizenDesk
from .adapters.sql.database import database_status, open_database
from .adapters.sql.migrate import upgrade_to_head
from .adapters.sql.registry import Registry
from .adapters.sql.stores import AccessStore, SessionStore
from .app.admission import AnalysisGate, analysis_capacity
from .config import Settings
from .domain.media import ImageLimits, VideoLimits
from .domain.policy import Policy, parse_policy
from .ports import FaceAnalyser


def load_policy(settings: Settings) -> Policy:
    return parse_policy(settings.policy_path.read_text(encoding="utf-8"))


def image_limits(settings: Settings) -> ImageLimits:
    return ImageLimits(settings.max_image_bytes, settings.max_image_pixels, settings.max_image_side)


def video_limits(settings: Settings) -> VideoLimits:
    return VideoLimits(max_bytes=settings.max_video_bytes, max_duration_s=settings.max_video_duration_s,
                       max_side=settings.max_video_side, max_frames=settings.max_video_frames)


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    engine: FaceAnalyser
    limits: ImageLimits
    database: Engine | None = None
    video: VideoLimits = VideoLimits()
    keyring: object | None = None   # adapters.crypto.Keyring (or a KMS behind the same port)
    signing_key: Ed25519PrivateKey | None = None  # Ed25519 private key signing receipts' tree heads (optional)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # the bound on analyses in flight in this process (admission.py); built from
    # the settings and the engine's pool when not given
    admission: AnalysisGate | None = None

    def __post_init__(self) -> None:
        if self.admission is None:
            self.admission = AnalysisGate(analysis_capacity(self.settings.max_analyses_in_flight, self.engine),
                                          self.settings.busy_retry_after_s)

    @property
    def access(self) -> AccessStore:
        return AccessStore(self._db(), tuple(self.engine.model_ids), self.policy.sha256)

    @property
    def sessions(self) -> SessionStore:
        return SessionStore(self._db())

    @property
    def registry(self) -> Registry:
        if self.keyring is None:
            raise RuntimeError("this runtime was built without a keyring")
        return Registry(self._db(), self.keyring, timedelta(days=self.settings.number_cooling_off_days))

    @property
    def citizen_desk(self) -> CitizenDesk:
        return CitizenDesk(self.registry)

    @property
    def receipts(self) -> SignedReceipts:
        return SignedReceipts(self.signing_key, self.clock)

    def _db(self) -> Engine:
        if self.database is None:
            raise RuntimeError("this runtime was built without a database")
        return self.database

    def close(self) -> None:
        self.engine.close()
        if self.database is not None:
            self.database.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def status(self) -> dict:
        return {
            "version": __import__("simreg").__version__,
            "policy": {"version": self.policy.version, "sha256": self.policy.sha256,
                       "matcher": self.policy.matcher,
                       "thresholds": {k: {"threshold": v.threshold, "target_fmr": v.target_fmr,
                                          "calibrated_on": v.calibrated_on, "n_impostor": v.n_impostor,
                                          "min_impostors": v.min_impostors, "supported": v.supported}
                                      for k, v in self.policy.thresholds.items()}},
            "models": self.engine.describe(),
            "database": database_status(self.database) if self.database is not None else None,
            "audit": self._audit_status(),
        }

    def _audit_status(self) -> dict:
        out: dict = {"checkpoint_public_key": None}
        if self.signing_key is not None:  # loaded once at start (load_signing_key)
            from .adapters import signing

            out["checkpoint_public_key"] = {"key_id": signing.key_id(self.signing_key),
                                            "pem": signing.public_key_to_pem(self.signing_key).decode("ascii")}
        if self.database is not None:
            from .adapters.sql.audit_store import size

            out["entries"] = size(self.database)
        return out


def build_runtime(settings: Settings | None = None, with_database: bool = False) -> Runtime:
    """Policy and face engine; the database too for the service."""
    from .adapters.faces.factory import build_face_engine

    settings = settings or Settings()
    policy = load_policy(settings)
    database, keyring = open_service_database(settings) if with_database else (None, None)
    try:
        engine = build_face_engine(settings)
    except BaseException:
        if database is not None:
            database.dispose()
        raise
    rt = Runtime(settings, policy, engine, image_limits(settings), database, video_limits(settings), keyring,
                 signing_key=load_signing_key(settings))
    if with_database:
        try:  # the service decides: its policy must be calibrated for the loaded models
            check_policy_fits_engine(policy, engine.model_ids)
        except BaseException:
            rt.close()
            raise
    return rt


def check_policy_fits_engine(policy: Policy, model_ids) -> None:
    """Refuse to serve when the policy's matcher is not calibrated for the loaded
    embedders (a threshold calibrated for another model never applies)."""
    from .domain.errors import PolicyError
    from .domain.reasons import ReasonCode

    if not policy.computable_from(model_ids) or policy.matcher not in policy.thresholds:
        raise PolicyError(ReasonCode.POLICY_NOT_CALIBRATED,
                          f"the policy's matcher {policy.matcher!r} is not calibrated for the loaded models "
                          f"{list(model_ids)}; run `simreg calibrate`")


def open_service_database(settings: Settings) -> tuple[Engine, object]:
    """The service's database brought to the newest schema, and the keyring it was
    written with.  Safe when several servers start at once on a fresh database:
    the migrations run under a lock (adapters/sql/migrate.py), and the keyring's
    check values are recorded by the first start and checked by the others."""
    database = open_database(settings.database_url)
    try:
        upgrade_to_head(database)
        from .adapters.sql.audit_sequencer import for_shard

        database = for_shard(database, settings.audit_shard)  # audit appends to its outbox when set
        keyring = load_keyring(settings)
        check_keyring_matches(database, keyring)
    except BaseException:
        database.dispose()
        raise
    return database, keyring


def load_signing_key(settings: Settings):
    """The audit checkpoint key, when configured; an unreadable one stops the start."""
    path = settings.audit_signing_key_file
    if path is None:
        return None
    from .adapters import signing
    from .domain.errors import InfraError
    from .domain.reasons import ReasonCode

    try:
        return signing.load_private_key(path.read_bytes())
    except (OSError, ValueError, TypeError):
        raise InfraError(ReasonCode.KEYS_UNAVAILABLE, f"the audit signing key {path} cannot be read") from None


def load_keyring(settings: Settings, create: bool = True):
    """The keyring from SIMREG_KEYRING, else from the keyring file (created on first
    use by the service; ``create=False`` for maintenance commands, which must not
    make a keyring the database was never written with)."""
    from .adapters.crypto import Keyring, KeyringError
    from .domain.errors import InfraError
    from .domain.reasons import ReasonCode

    try:
        if settings.keyring:
            return Keyring.from_env(settings.keyring)
        return Keyring.load_or_create(settings.keyring_file) if create else Keyring.load(settings.keyring_file)
    except KeyringError as exc:
        raise InfraError(ReasonCode.KEYS_UNAVAILABLE,
                         f"the keyring cannot be used ({exc.code}: {exc.message})") from None


def check_keyring_matches(database: Engine, keyring) -> None:
    """Refuse to start with a keyring other than the one the database was written
    with: its blind indexes would find no one and the quota would not hold.  The
    keys' check values (never the keys) are recorded on first start and after
    each rotation; extra keys are fine."""
    from .adapters.crypto import KeyringError
    from .domain.errors import InfraError
    from .domain.reasons import ReasonCode

    registry = Registry(database, keyring)
    stored = registry.stored_keyring_fingerprint()
    if stored is None:  # a fresh database: the first start records it (others may race: one wins)
        stored = registry.claim_keyring_fingerprint(json.dumps(keyring.check_values(), sort_keys=True))
    try:
        keyring.verify_check_values(json.loads(stored))
    except KeyringError as exc:
        raise InfraError(ReasonCode.KEYS_MISMATCH,
                         f"the keyring does not hold the keys this database was written with ({exc.code})") from None
