"""Receipts of decisions (the :class:`simreg.ports.ReceiptIssuer` port): where the
decision's entry sits in the audit log, and the tree head that includes it,
signed with the log's Ed25519 key when one is configured.  With ``simreg audit
prove INDEX --size SIZE`` anyone holding the public key can check the entry was
never removed or changed (domain/receipts.py checks one offline)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ..domain.merkle import leaf_hash
from ..domain.records import Recorded


class SignedReceipts:
    def __init__(self, signing_key, clock: Callable[[], datetime]):
        self.signing_key = signing_key
        self.clock = clock

    def receipt(self, r: Recorded) -> dict:
        if r.audit_shard is not None:  # sharded log: sequenced later; `simreg audit receipt` completes it
            from .sql.audit_sequencer import Enqueued, pending_receipt

            assert r.audit_outbox_id is not None  # a sharded record has its outbox row
            return pending_receipt(Enqueued(r.audit_shard, r.audit_outbox_id))
        assert r.audit_entry_hash is not None  # the global log: sequenced at once
        cp = None
        if self.signing_key is not None:
            from .signing import sign_checkpoint

            cp = json.loads(sign_checkpoint(self.signing_key, r.tree_size, r.root_hash, self.clock()).to_json())
        return {"audit_position": r.audit_position, "entry_hash": r.audit_entry_hash,
                "leaf_hash": leaf_hash(bytes.fromhex(r.audit_entry_hash)).hex(), "tree_size": r.tree_size,
                "root_hash": r.root_hash, "checkpoint": cp}
