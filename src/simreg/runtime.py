"""What the app and the CLI build at start-up: settings, policy, face engine."""

from __future__ import annotations

from dataclasses import dataclass

from .adapters.media import ImageLimits
from .adapters.video import VideoLimits
from .config import Settings
from .domain.policy import Policy, parse_policy
from sqlalchemy.engine import Engine

from .adapters.sql.database import database_status, open_database
from .adapters.sql.migrate import upgrade_to_head
from .adapters.sql.stores import AccessStore, SessionStore
from .face_engine import FaceAnalyser


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

    @property
    def access(self) -> AccessStore:
        return AccessStore(self._db())

    @property
    def sessions(self) -> SessionStore:
        return SessionStore(self._db())

    def _db(self) -> Engine:
        if self.database is None:
            raise RuntimeError("this runtime was built without a database")
        return self.database

    def close(self) -> None:
        self.engine.close()
        if self.database is not None:
            self.database.dispose()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def status(self) -> dict:
        return {
            "version": __import__("simreg").__version__,
            "policy": {"version": self.policy.version, "sha256": self.policy.sha256,
                       "matcher": self.policy.matcher,
                       "thresholds": {k: {"threshold": v.threshold, "target_fmr": v.target_fmr,
                                          "calibrated_on": v.calibrated_on}
                                      for k, v in self.policy.thresholds.items()}},
            "models": self.engine.describe(),
            "database": database_status(self.database) if self.database is not None else None,
            "audit": self._audit_status(),
        }

    def _audit_status(self) -> dict:
        out: dict = {"checkpoint_public_key": None}
        path = self.settings.audit_signing_key_file
        if path is not None and path.is_file():
            from .adapters import signing

            try:
                key = signing.load_private_key(path.read_bytes())
            except (OSError, ValueError, TypeError):  # an unreadable key must not turn /status into a 500
                out["checkpoint_public_key"] = {"error": "KEYS.UNREADABLE"}
            else:
                out["checkpoint_public_key"] = {"key_id": signing.key_id(key),
                                                "pem": signing.public_key_to_pem(key).decode("ascii")}
        if self.database is not None:
            from .adapters.sql.audit_store import size

            out["entries"] = size(self.database)
        return out


def build_runtime(settings: Settings | None = None, with_database: bool = False) -> Runtime:
    """Policy and face engine; the database too for the service."""
    from .adapters.faces.factory import build_face_engine

    settings = settings or Settings()
    database = open_database(settings.database_url) if with_database else None
    if database is not None:
        upgrade_to_head(database)
    return Runtime(settings, load_policy(settings), build_face_engine(settings), image_limits(settings), database,
                   video_limits(settings))
