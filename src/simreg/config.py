"""Settings, from ``SIMREG_*`` environment variables.  Built once at start-up and
passed down; nothing reads the environment elsewhere."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGED_POLICY = Path(__file__).parent / "policy" / "default.json"


def checkout_root() -> Path:
    """The source checkout this package runs from (src layout: ../../ of this file)."""
    return Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMREG_", extra="ignore")

    # "development" allows test-only conveniences (a request may name its challenge).
    env: str = "production"
    session_ttl_s: float = Field(120.0, gt=0)
    # Ed25519 private key (PEM) that signs audit checkpoints; its public half is
    # published by /status.  `simreg keys new-signing-key --out FILE` makes one.
    audit_signing_key_file: Path | None = None
    # The sharded audit log (docs/design/audit-log.md, "The log at scale"): when
    # set, this process's audit appends go to this shard's outbox, and
    # `simreg audit sequencer` gives them positions in batches.  By convention the
    # province's two-digit GB/T 2260 code ("44").  Unset: the one global chain.
    audit_shard: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")

    @field_validator("audit_shard")
    @classmethod
    def _not_the_root_log(cls, v: str | None) -> str | None:
        if v == "root":  # domain/audit_shards.ROOT: the log of the shards' checkpoints
            raise ValueError("'root' names the root log of the shards' checkpoints, not a shard")
        return v
    # Where the shared evaluation data lives (tests and benchmarks only); a relative
    # path is taken from the checkout's root.
    data_dir: Path = Path("../shared/data")
    # The versioned decision policy (thresholds keyed by model id).
    policy_path: Path = PACKAGED_POLICY
    # SQLite file (relative to the working directory) unless a URL says otherwise.
    database_url: str = "sqlite:///var/simreg.sqlite3"
    host: str = "127.0.0.1"
    port: int = 8000
    # Image input limits.
    max_image_bytes: int = 15 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    max_image_side: int = 1600
    # Face engine: which detector finds faces ("yunet", "mtcnn" or "hog") and which
    # embedders describe them (names in adapters/faces/factory.py's table, e.g.
    # "sface", "sface+flip", "dlib", "facenet"; SIMREG_EMBEDDERS='["sface"]').  The
    # policy's matcher must be one of them (or their fusion), calibrated.
    detector: str = "yunet"
    embedders: list[str] = ["sface+flip"]
    # The 68-point landmarker behind quality and liveness (eye openness, pose):
    # "dlib68" (iBUG 300-W data: non-commercial) or a permissive replacement
    # registered in adapters/faces/factory.py's LANDMARKERS.
    landmarker: str = "dlib68"
    # Frames of the challenge video averaged into the live template (best first).
    live_template_frames: int = Field(3, ge=1, le=8)
    detector_max_side: int = 640
    # 192 px: selfie faces stay 50+ px for YuNet; 5.7 -> 3.3 ms a frame, same liveness results
    # on the shared data (docs/liveness-eval.md)
    tracking_detector_max_side: int = 192
    # Video input limits.
    max_video_bytes: int = 20 * 1024 * 1024
    max_video_duration_s: float = 15.0
    max_video_side: int = 1920
    max_video_frames: int = 900
    # Test-time flip averaging for FaceNet (only when "facenet" is an embedder);
    # changing it changes the model id, so the policy must be re-calibrated.
    facenet_flip: bool = False
    # Face analysis in worker processes: None = one per CPU this process may use
    # (affinity and cgroup quota), at most 4; 0 = in-process.
    engine_workers: int | None = Field(None, ge=0)

    # --- registration service -------------------------------------------------
    # Keyring (adapters/crypto.py): SIMREG_KEYRING holds its JSON (or base64 of
    # it), else the file below is used and, when absent, created (mode 0600).
    keyring: str | None = None
    keyring_file: Path = Path("var/keyring.json")
    # Quota: numbers per person with this operator; per_jurisdiction overrides by
    # the document's jurisdiction ("CN", "HMT", or a passport's issuing state),
    # e.g. SIMREG_QUOTA_BY_JURISDICTION='{"CN": 5, "HMT": 3}'.
    quota_default: int = Field(5, ge=1)
    quota_by_jurisdiction: dict[str, int] = {}
    # Lockout: this many failed attempts within the window lock the ID (or clerk).
    lockout_max_failures: int = Field(5, ge=1)
    lockout_window_s: float = Field(180.0, gt=0)
    lockout_s: float = Field(900.0, gt=0)
    # A released number waits this long before it can be registered again.
    number_cooling_off_days: float = Field(90.0, ge=0)
    # Minimum age of a registrant (years).
    min_age: int = 16
    # How long a registration's consent record (and the registration) is kept.
    record_retention_days: int = Field(1095, ge=1)
    # Live-face templates for later re-verification (e.g. a SIM swap): off by
    # default.  When on, sealed under a per-person data key (crypto-shredding).
    store_templates: bool = False
    template_retention_days: int = Field(365, ge=1)
    # Retention of operational data: failed-attempt records (lockouts), used or
    # expired capture sessions, finished idempotency keys.
    attempt_retention_days: int = 30
    session_retention_days: int = 7
    idempotency_retention_days: int = 2
    # The purpose recorded with each consent.
    consent_purpose: str = "sim_registration_identity_verification"
    # A pending Idempotency-Key older than this may be retried by a new request.
    idempotency_stale_s: float = Field(300.0, gt=0)

    # --- load shedding (admission.py) ----------------------------------------
    # Face analyses at once in one server process; past it 503 ENGINE.BUSY with
    # Retry-After.  None = one per face-engine worker process.
    max_analyses_in_flight: int | None = Field(None, ge=1)
    busy_retry_after_s: int = Field(2, ge=1)
    # A registration left in review this long is closed as rejected (REVIEW.EXPIRED)
    # and its reserved number returned to the pool, by `simreg retention run`.
    review_timeout_hours: float = Field(72.0, gt=0)

    def shared_data_dir(self) -> Path:
        """``data_dir`` made absolute: a relative path is taken from the checkout's root."""
        d = self.data_dir
        return (d if d.is_absolute() else checkout_root() / d).resolve()
