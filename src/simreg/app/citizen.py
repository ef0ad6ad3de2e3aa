"""The citizen's "numbers under my ID" lookup: the person proves who they are
through the same pipeline as a registration (document, live challenge video
matched to the ID portrait), then sees their numbers, may flag one as not
theirs, and may withdraw biometric consent.

    id_document.validate -> lockout -> session check -> pipeline.assess_registration
    -> CitizenDesk.record_lookup (session used, lookup audited, grant issued) -> numbers
"""

from __future__ import annotations

from ..domain.access import Clerk
from ..domain.reasons import Outcome
from ..ports import CitizenDeskPort
from .registration import RegistrationInput, RegistrationService


class CitizenService:
    def __init__(self, runtime) -> None:
        self.rt = runtime
        self.reg = RegistrationService(runtime)
        self.desk: CitizenDeskPort = runtime.citizen_desk

    def lookup(self, inp: RegistrationInput, clerk: Clerk) -> dict:
        now = self.reg.clock()
        _doc, key, challenge = self.reg.open_identity_check(inp, clerk, now)
        assessment = self.reg.assess(inp, challenge, key, clerk, now)
        d = assessment.decision
        out = self.desk.record_lookup(holder_key=key, clerk=clerk, session_id=inp.session_id, session_checked_at=now,
                                      passed=d.outcome is Outcome.APPROVED, reasons=list(d.reasons),
                                      stamp=self.reg.stamp, now=self.reg.clock())
        return {**out, "scores": dict(d.scores)}

    def dispute(self, token: str, number_ref: str, clerk: Clerk) -> dict:
        return self.desk.raise_dispute(token, number_ref, clerk, self.reg.stamp, self.reg.clock())

    def withdraw_consent(self, token: str, clerk: Clerk) -> dict:
        return self.desk.withdraw_consent(token, clerk, self.reg.stamp, self.reg.clock())

    def open_disputes(self, clerk: Clerk) -> list[dict]:
        return self.desk.open_disputes(clerk.outlet_id)

    def resolve(self, dispute_id: str, clerk: Clerk, upheld: bool, note: str) -> dict:
        return self.desk.resolve_dispute(dispute_id, clerk, upheld, note, self.reg.stamp, self.reg.clock())
