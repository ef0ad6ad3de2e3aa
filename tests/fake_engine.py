"""A face engine that loads no model, for HTTP tests that need the service but not
its biometrics (admission control, probes, the API contract): it finds no face
in any portrait, so every analysis ends in 422 FACE.NOT_FOUND after passing
through the whole request path.  ``hold`` makes each analysis wait until the
test releases it, so a test can keep analyses in flight deterministically."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from simreg.config import Settings
from simreg.domain.errors import InputError
from simreg.domain.reasons import ReasonCode
from simreg.runtime import load_policy


class NoFaceEngine:
    model_ids = ("fake-no-face-v0",)

    def __init__(self, workers: int = 1, hold: bool = False):
        self.workers = workers
        self.hold = hold
        self.release = threading.Event()
        self.started = threading.Semaphore(0)  # one release per analysis that began
        self.calls = 0

    def _analysis(self):
        self.calls += 1
        self.started.release()
        if self.hold and not self.release.wait(timeout=60):
            raise AssertionError("the test never released the held analysis")
        return InputError(ReasonCode.FACE_NOT_FOUND, "no face found")

    def analyse_with_video(self, image, video, limits, policy, mirrored=False):
        return self._analysis(), None

    def track_video(self, data, limits, rules, policy=None, mirrored=False, tracking=None):
        raise self._analysis()

    def analyse_each(self, images, policy):
        return [self._analysis() for _ in images]

    def analyse(self, images, policy):
        raise self._analysis()

    def decode_image(self, data, limits):
        from simreg.adapters.media import decode_image

        return decode_image(data, limits)

    def describe(self) -> dict:
        return {"detector": "none", "embedders": list(self.model_ids), "worker_processes": self.workers}

    def close(self) -> None:
        self.release.set()


def fake_runtime(engine: NoFaceEngine | None = None) -> SimpleNamespace:
    """What ``service_support.make_service`` takes from the session's runtime: the
    shipped policy and an engine (this one, which loads nothing)."""
    return SimpleNamespace(policy=load_policy(Settings()), engine=engine or NoFaceEngine())
