"""The engine's worker pool: a failure in a worker is a reason code, never a
traceback, and no call is left running for nobody."""

from __future__ import annotations

import time

import pytest

from simreg.adapters.faces.pool import EnginePool
from simreg.config import Settings
from simreg.domain.errors import InfraError, InputError
from simreg.domain.reasons import ReasonCode


def _boom():
    raise ValueError("a bug in a model runtime")


def _refuse():
    raise InputError(ReasonCode.FACE_NOT_FOUND, "no face")


def _slow(marker: str, seconds: float = 0.5) -> str:
    time.sleep(seconds)
    with open(marker, "w") as fh:
        fh.write("done")
    return marker


@pytest.fixture(scope="module")
def pool(face_models):
    p = EnginePool(Settings(), 2)
    yield p
    p.close()


def test_an_unexpected_worker_error_is_engine_unavailable_after_every_call_has_finished(pool, tmp_path):
    marker = tmp_path / "slow-call-finished"
    with pytest.raises(InfraError) as err:
        pool._run([(_boom,), (_slow, str(marker))])
    assert err.value.code is ReasonCode.ENGINE_UNAVAILABLE and "bug" not in err.value.message
    assert marker.read_text() == "done"  # the other call was waited for, not left running for nobody


def test_an_input_error_in_a_worker_comes_back_as_that_error(pool, tmp_path):
    result, done = pool._run([(_refuse,), (_slow, str(tmp_path / "m"), 0.0)])
    assert isinstance(result, InputError) and result.code is ReasonCode.FACE_NOT_FOUND
    assert done == str(tmp_path / "m")
