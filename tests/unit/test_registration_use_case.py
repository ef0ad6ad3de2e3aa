"""The registration use case (simreg.app.registration) over in-memory ports: no
database, no models.  The biometric pipeline is replaced by a stub that returns
the decision a test asks for, so what is tested is the use case's own order:
document -> lockout -> session -> quota -> number -> biometrics -> one recorded
decision, idempotency, and what a failure leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

import simreg.app.pipeline as pipeline
from memory_ports import MemoryKeyring, MemoryReceipts, MemoryRegistry, MemorySessions
from simreg.app.admission import AnalysisGate
from simreg.app.registration import Consent, DocumentInput, RegistrationInput, RegistrationService
from simreg.config import Settings
from simreg.domain.access import Clerk, Role
from simreg.domain.challenge import Action, Challenge
from simreg.domain.decision import Decision
from simreg.domain.errors import InputError, PolicyError, Throttled
from simreg.domain.media import ImageLimits, VideoLimits
from simreg.domain.policy import parse_policy
from simreg.domain.reasons import Outcome, ReasonCode

ID = "11010519491231002X"
OTHER_ID = "110105194912310038"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CLERK = Clerk("clk_1", "out_1", "Clerk One", Role.CLERK)
POLICY = parse_policy((Path(__file__).resolve().parents[2] / "src/simreg/policy/default.json").read_text())


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture()
def world(monkeypatch):
    """A runtime of in-memory ports, a settable clock, and the decision the pipeline will return."""
    clock = Clock()
    sessions = MemorySessions()
    registry = MemoryRegistry(sessions, [f"+861380013800{i}" for i in range(8)])
    settings = Settings(quota_default=2, lockout_max_failures=3)
    rt = SimpleNamespace(settings=settings, policy=POLICY, engine=SimpleNamespace(model_ids=("m",)),
                         registry=registry, sessions=sessions, keyring=MemoryKeyring(), receipts=MemoryReceipts(),
                         admission=AnalysisGate(2, 1.0), limits=ImageLimits(), video=VideoLimits(), clock=clock)
    outcome = {"next": Decision(Outcome.APPROVED, (), {}), "calls": 0}

    def assess(*a, **k):
        outcome["calls"] += 1
        nxt = outcome["next"]
        if isinstance(nxt, Exception):
            raise nxt
        return pipeline.Assessment(nxt, None, None)

    monkeypatch.setattr(pipeline, "assess_registration", assess)
    return SimpleNamespace(rt=rt, svc=RegistrationService(rt), registry=registry, sessions=sessions, clock=clock,
                           outcome=outcome)


def _session(w) -> str:
    return w.sessions.create(Challenge((Action.TURN_LEFT, Action.BLINK), "nonce-" + str(len(w.sessions.sessions)),
                                       w.clock.now, w.clock.now + timedelta(seconds=120)), CLERK)


def _input(w, id_number=ID, phone=None, session=None) -> RegistrationInput:
    return RegistrationInput(
        session_id=session or _session(w),
        document=DocumentInput("cn_resident", id_number, None, "王芳", "long_term", None),
        portrait=b"portrait", video=b"video", mirrored=False,
        consent=Consent("face-consent-v3", NOW - timedelta(minutes=1)), phone_number=phone)


def test_an_approval_takes_a_number_uses_the_session_and_records_one_decision(world):
    inp = _input(world)
    out = world.svc.register(inp, CLERK, "k-1")
    assert out["outcome"] == "approved" and out["phone_number"] == "+8613800138000"
    assert [d.outcome for d in world.registry.decisions] == [Outcome.APPROVED]
    assert inp.session_id in world.sessions.used
    assert out["receipt"]["audit_position"] == len(world.registry.events) - 1


def test_a_retry_with_the_same_key_returns_the_first_result_and_registers_nothing_more(world):
    inp = _input(world)
    first = world.svc.register(inp, CLERK, "k-1")
    again = world.svc.register(inp, CLERK, "k-1")
    assert again["registration_id"] == first["registration_id"] and again["idempotent_replay"]
    assert len(world.registry.decisions) == 1 and world.outcome["calls"] == 1


def test_the_same_key_for_another_request_is_refused(world):
    world.svc.register(_input(world), CLERK, "k-1")
    with pytest.raises(InputError) as exc:
        world.svc.register(_input(world), CLERK, "k-1")
    assert exc.value.code is ReasonCode.IDEMPOTENCY_MISMATCH


def test_the_quota_is_checked_before_any_biometrics(world):
    for k in range(2):
        world.svc.register(_input(world), CLERK, f"k-{k}")
    calls = world.outcome["calls"]
    with pytest.raises(PolicyError) as exc:
        world.svc.register(_input(world), CLERK, "k-3")
    assert exc.value.code is ReasonCode.QUOTA_EXCEEDED
    assert world.outcome["calls"] == calls       # refused before the face engine ran
    assert len(world.registry.decisions) == 2 and len(world.registry.free) == 6


def test_a_failed_request_releases_its_key_so_a_retry_runs_again(world):
    world.outcome["next"] = InputError(ReasonCode.FACE_NOT_FOUND, "no face")
    inp = _input(world)
    with pytest.raises(InputError):
        world.svc.register(inp, CLERK, "k-1")
    assert world.registry.decisions == [] and inp.session_id not in world.sessions.used
    world.outcome["next"] = Decision(Outcome.APPROVED, (), {})
    assert world.svc.register(inp, CLERK, "k-1")["outcome"] == "approved"


def test_rejections_lock_the_id_after_the_rule_s_number_of_failures(world):
    world.outcome["next"] = Decision(Outcome.REJECTED, (ReasonCode.LIVENESS_NO_BLINK.value,), {})
    for k in range(3):
        assert world.svc.register(_input(world), CLERK, f"k-{k}")["outcome"] == "rejected"
        world.clock.now += timedelta(seconds=10)
    with pytest.raises(Throttled) as exc:
        world.svc.register(_input(world), CLERK, "k-9")
    assert exc.value.code in (ReasonCode.LOCKOUT_ID, ReasonCode.LOCKOUT_CLERK) and exc.value.retry_after_s > 0
    # after the lock, the ID may try again
    world.clock.now += timedelta(seconds=Settings().lockout_s + 1)
    world.outcome["next"] = Decision(Outcome.APPROVED, (), {})
    assert world.svc.register(_input(world), CLERK, "k-10")["outcome"] == "approved"


def test_an_unusable_capture_counts_toward_the_lockout_but_a_review_does_not(world):
    world.outcome["next"] = InputError(ReasonCode.FACE_NOT_FOUND, "no face")
    with pytest.raises(InputError):
        world.svc.register(_input(world), CLERK, "k-1")
    assert len(world.registry.attempts) == 1
    world.outcome["next"] = Decision(Outcome.REVIEW, (ReasonCode.PAD_MODEL_SUSPECTED.value,), {})
    out = world.svc.register(_input(world, id_number=OTHER_ID), CLERK, "k-2")
    assert out["outcome"] == "review" and out["reasons"] == [ReasonCode.PAD_MODEL_SUSPECTED.value]
    assert out["phone_number"] is not None        # reserved for the supervisor's decision
    assert len(world.registry.attempts) == 1


def test_a_used_or_expired_session_is_refused_before_the_biometrics(world):
    inp = _input(world)
    world.svc.register(inp, CLERK, "k-1")
    with pytest.raises(InputError) as used:
        world.svc.register(_input(world, session=inp.session_id), CLERK, "k-2")
    assert used.value.code is ReasonCode.SESSION_REPLAYED
    late = _input(world)
    world.clock.now += timedelta(seconds=121)
    with pytest.raises(InputError) as expired:
        world.svc.register(late, CLERK, "k-3")
    assert expired.value.code is ReasonCode.SESSION_EXPIRED
    assert world.outcome["calls"] == 1


def test_an_invalid_document_never_reaches_the_session_or_the_biometrics(world):
    with pytest.raises(InputError) as exc:
        world.svc.register(_input(world, id_number="110105194912310021"), CLERK, "k-1")
    assert exc.value.code.value.startswith("ID.")
    assert world.outcome["calls"] == 0 and world.registry.decisions == []


def test_a_registration_needs_the_customer_s_consent(world):
    inp = _input(world)
    inp = RegistrationInput(**{**inp.__dict__, "consent": None})
    with pytest.raises(InputError) as exc:
        world.svc.register(inp, CLERK, "k-1")
    assert exc.value.code is ReasonCode.CONSENT_REQUIRED and world.outcome["calls"] == 0



def test_a_registration_that_loses_the_quota_race_is_refused_and_audited(world, monkeypatch):
    world.svc.register(_input(world), CLERK, "k-1")           # 1 of 2 held

    def concurrent(*a, **k):                                  # another counter registers meanwhile
        world.registry.held["cn_resident_id|" + ID].append("+8613800999999")
        return pipeline.Assessment(Decision(Outcome.APPROVED, (), {}), None, None)

    monkeypatch.setattr(pipeline, "assess_registration", concurrent)
    inp = _input(world)
    with pytest.raises(PolicyError) as exc:
        world.svc.register(inp, CLERK, "k-2")
    assert exc.value.code is ReasonCode.QUOTA_EXCEEDED
    assert len(world.registry.decisions) == 1 and inp.session_id not in world.sessions.used
    assert world.registry.events[-1][1] == "registration.refused"


SUPERVISOR = Clerk("clk_s", "out_1", "Supervisor", Role.SUPERVISOR)


def test_a_review_approved_activates_the_reserved_number_and_rejected_returns_it(world):
    from simreg.domain.numbers import NumberState

    world.outcome["next"] = Decision(Outcome.REVIEW, (ReasonCode.MATCH_GREY_ZONE.value,), {})
    first = world.svc.register(_input(world), CLERK, "k-1")
    second = world.svc.register(_input(world, id_number=OTHER_ID), CLERK, "k-2")
    assert world.registry.states[first["phone_number"]] is NumberState.RESERVED
    stamp = world.svc.stamp
    approved = world.registry.review(first["registration_id"], SUPERVISOR, True, "matches the card", stamp, NOW)
    assert approved["outcome"] == "approved"
    assert world.registry.states[first["phone_number"]] is NumberState.ACTIVE
    rejected = world.registry.review(second["registration_id"], SUPERVISOR, False, "another person", stamp, NOW)
    assert rejected["outcome"] == "rejected" and rejected["reasons"][-1] == "DECISION.SUPERVISOR_REJECTED"
    assert second["phone_number"] in world.registry.free            # back in the pool at once
    with pytest.raises(PolicyError) as twice:
        world.registry.review(first["registration_id"], SUPERVISOR, False, "changed my mind", stamp, NOW)
    assert twice.value.code is ReasonCode.REVIEW_NOT_PENDING
    elsewhere = Clerk("clk_x", "out_2", "Other outlet", Role.SUPERVISOR)
    with pytest.raises(InputError):
        world.registry.review(second["registration_id"], elsewhere, True, "not mine to decide", stamp, NOW)
