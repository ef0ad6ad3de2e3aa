"""Request and response bodies of the REST API (pydantic lives only here and in config)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ErrorResponse(BaseModel):
    code: str = Field(examples=["SESSION.EXPIRED"])
    message: str = Field(examples=["the capture session has expired"])
    request_id: str = Field(examples=["6f1c0c8e2b8e4b1f9d1c5a3e7b2a9d40"])


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: list[str] | None = Field(
        default=None, description="Development only (SIMREG_ENV=development): name the challenge, "
                                  "so tests can replay recorded videos. Refused otherwise.",
        examples=[None])


class SessionResponse(BaseModel):
    session_id: str = Field(examples=["ses_4b1f9d1c5a3e7b2a9d40aa11"])
    challenge: list[str] = Field(description="Actions in order; turn_left = the subject's own left.",
                                 examples=[["turn_left", "blink", "turn_right"]])
    nonce: str = Field(examples=["p1Hq3n1aT0c2Yw8xV4m5Rw"])
    expires_at: datetime
