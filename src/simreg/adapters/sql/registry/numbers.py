"""The number pool: adding numbers, checking and taking one, and the admin's state changes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from ....domain.errors import InputError, PolicyError
from ....domain.numbers import NumberState, check_transition, mask_phone
from ....domain.reasons import ReasonCode
from ....domain.records import Stamp
from .. import audit_store
from ..database import for_update, lock_for_write
from ..schema import numbers
from ..stores import aware
from ._common import Repository


class NumberRepository(Repository):
    def __init__(self, engine: Engine, keyring, cooling_off: timedelta = timedelta(days=90)):
        super().__init__(engine, keyring)
        self.cooling_off = cooling_off

    def phone_index(self, e164: str) -> str:
        return self.keyring.blind_index(e164, purpose="phone")

    def add_numbers(self, e164_numbers: Sequence[str], actor: str, stamp: Stamp, now: datetime) -> int:
        """Put numbers into the pool as available; numbers already known are skipped."""
        added = 0
        base = time.time_ns()  # ids sort in the order numbers were added: the pool hands them out so
        with self.engine.begin() as c:
            lock_for_write(c)
            for i, n in enumerate(e164_numbers):
                idx = self.phone_index(n)
                if c.execute(select(numbers.c.number_id).where(numbers.c.number_index.in_(
                        self.keyring.blind_indexes(n, purpose="phone")))).first() is not None:
                    continue
                nid = f"num_{base + i:016x}{secrets.token_hex(4)}"
                c.execute(insert(numbers).values(
                    number_id=nid, number_index=idx,
                    number_ciphertext=self.keyring.encrypt(n.encode(), aad=nid.encode()),
                    number_masked=mask_phone(n), state=NumberState.AVAILABLE.value, state_changed_at=now,
                    created_at=now))
                added += 1
            audit_store.append(c, now=now, actor=actor, action="numbers.added", subject="pool",
                               details={"requested": len(e164_numbers), "added": added},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return added

    def _number_row(self, c: Connection, e164: str, lock: bool = False):
        q = select(numbers).where(numbers.c.number_index.in_(self.keyring.blind_indexes(e164, purpose="phone")))
        if lock:
            q = for_update(q, c)
        return c.execute(q).mappings().first()

    def _reusable(self, now: datetime):
        """Rows that may be handed out: available, or released past the cooling-off period."""
        return or_(numbers.c.state == NumberState.AVAILABLE.value,
                   and_(numbers.c.state == NumberState.RELEASED.value,
                        numbers.c.released_at <= now - self.cooling_off))

    def check_number_available(self, e164: str | None, now: datetime) -> None:
        """Before any biometrics: the asked-for number can be registered, or (no
        number asked for) the pool has one.  The final transaction checks again."""
        with self.engine.connect() as c:
            if e164 is None:
                if c.execute(select(numbers.c.number_id).where(self._reusable(now)).limit(1)).first() is None:
                    raise PolicyError(ReasonCode.NUMBER_POOL_EMPTY, "no number is available; add numbers to the pool")
                return
            row = self._number_row(c, e164)
        if row is None or not self._is_reusable(row, now):
            raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number is not available for registration")

    def _is_reusable(self, row, now: datetime) -> bool:
        if row["state"] == NumberState.AVAILABLE.value:
            return True
        return (row["state"] == NumberState.RELEASED.value and row["released_at"] is not None
                and aware(row["released_at"]) <= now - self.cooling_off)

    def take_number(self, c: Connection, e164: str | None, target: NumberState, person_id: str,
                     registration_id: str, outlet_id: str, now: datetime) -> tuple[str, str]:
        if e164 is not None:
            row = self._number_row(c, e164, lock=True)
            if row is None or not self._is_reusable(row, now):
                raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number is not available for registration")
        else:
            q = select(numbers).where(self._reusable(now)).order_by(numbers.c.number_id).limit(1)
            q = for_update(q, c, skip_locked=True)
            row = c.execute(q).mappings().first()
            if row is None:
                raise PolicyError(ReasonCode.NUMBER_POOL_EMPTY, "no number is available; add numbers to the pool")
        done = c.execute(update(numbers).where(numbers.c.number_id == row["number_id"], numbers.c.state == row["state"])
                         .values(state=target.value, person_id=person_id, registration_id=registration_id,
                                 outlet_id=outlet_id, state_changed_at=now, released_at=None))
        if done.rowcount != 1:
            raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number was just taken; retry")
        clear = self.keyring.decrypt(row["number_ciphertext"], aad=row["number_id"].encode()).decode()
        return row["number_id"], clear

    def set_number_state(self, e164: str, target: NumberState, actor: str, reason: str, stamp: Stamp,
                         now: datetime) -> dict:
        """Suspend, resume or release a number (admin/supervisor); audited."""
        with self.engine.begin() as c:
            lock_for_write(c)
            row = self._number_row(c, e164, lock=True)
            if row is None:
                raise InputError(ReasonCode.NUMBER_UNKNOWN, "no such number in the pool")
            current = NumberState(row["state"])
            if current is NumberState.RESERVED:  # only the review decides a reserved number
                raise PolicyError(ReasonCode.NUMBER_TRANSITION, "a reserved number awaits its review decision")
            check_transition(current, target)
            values: dict[str, Any] = {"state": target.value, "state_changed_at": now}
            if target is NumberState.RELEASED:
                values.update(released_at=now, person_id=None, registration_id=None)
            c.execute(update(numbers).where(numbers.c.number_id == row["number_id"]).values(**values))
            audit_store.append(c, now=now, actor=actor, action=f"number.{target.value}", subject=row["number_id"],
                               details={"from": current.value, "to": target.value, "reason": reason[:200]},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"number_id": row["number_id"], "state": target.value, "previous_state": current.value}
