"""Outlets, clerks and roles: who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Role(str, Enum):
    CLERK = "clerk"            # registers; sees their own registrations
    SUPERVISOR = "supervisor"  # reviews; the alternative (non-face) path; disputes
    AUDITOR = "auditor"        # reads the audit log and aggregate reports; no clear personal data
    ADMIN = "admin"            # manages outlets, clerks and keys


@dataclass(frozen=True)
class Outlet:
    outlet_id: str
    name: str


@dataclass(frozen=True)
class Clerk:
    clerk_id: str
    outlet_id: str
    name: str
    role: Role
    active: bool = True
