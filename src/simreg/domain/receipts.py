"""Checking a registration receipt against an inclusion proof: pure, offline.

A receipt (in the registration's response) names the decision's audit entry
(position, entry hash, leaf hash) and a signed tree head (size, root) that
includes it.  An inclusion proof (``simreg audit prove INDEX --size SIZE``)
shows the leaf under that root.  Both together, with the log's public key,
prove to a customer or regulator that the entry is in the log the operator
signed, unchanged; a forged proof, receipt or signature fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .merkle import leaf_hash, verify_inclusion


def check_receipt(receipt: Mapping[str, Any], proof: Mapping[str, Any],
                  verify_signature: Callable[[Mapping[str, Any]], bool]) -> str | None:
    """``None`` when the receipt holds, else what is wrong (a short sentence)."""
    try:
        index = int(receipt["audit_position"])
        size = int(receipt["tree_size"])
        root = bytes.fromhex(receipt["root_hash"])
        entry = bytes.fromhex(receipt["entry_hash"])
        leaf = bytes.fromhex(receipt["leaf_hash"])
        path = [bytes.fromhex(h) for h in proof["proof"]]
    except (KeyError, TypeError, ValueError):
        return "the receipt or the proof is malformed"
    cp = receipt.get("checkpoint")
    if not isinstance(cp, Mapping):
        return "the receipt carries no signed tree head"
    if cp.get("size") != size or cp.get("root_hash") != receipt["root_hash"]:
        return "the signed tree head is not the receipt's tree"
    if not verify_signature(cp):
        return "the tree head's signature does not verify"
    if leaf_hash(entry) != leaf:
        return "the leaf hash is not the entry's"
    if (proof.get("index"), proof.get("size"), proof.get("leaf_hash"), proof.get("root_hash")) != \
            (index, size, receipt["leaf_hash"], receipt["root_hash"]):
        return "the proof is for another entry or tree"
    if not verify_inclusion(leaf, index, size, path, root):
        return "the inclusion proof does not lead to the signed root"
    return None


def check_root_link(receipt: Mapping[str, Any], verify_signature: Callable[[Mapping[str, Any]], bool]) -> str | None:
    """For a receipt of the sharded log (``simreg audit receipt``): does its
    ``root`` part show the receipt's shard checkpoint in the root log?  The root
    entry must hash to itself and record exactly the receipt's shard, tree size,
    root and signed note; its inclusion proof must lead to the root checkpoint,
    whose signature must verify.  ``None`` when it holds (call
    :func:`check_receipt` for the entry itself)."""
    from .audit import entry_from_row, recompute_entry_hash
    from .audit_shards import ROOT_ACTION

    link = receipt.get("root")
    if not isinstance(link, Mapping):
        return "the receipt carries no root-log link"
    try:
        entry = entry_from_row(link["entry"])
        position, size = int(link["position"]), int(link["tree_size"])
        root = bytes.fromhex(link["root_hash"])
        path = [bytes.fromhex(h) for h in link["proof"]]
    except (KeyError, TypeError, ValueError):
        return "the root-log link is malformed"
    if recompute_entry_hash(entry) != entry.entry_hash or entry.position != position:
        return "the root entry does not match its hash"
    d = entry.details
    cp = receipt.get("checkpoint") or {}
    if (entry.action, entry.subject, d.get("shard"), d.get("size"), d.get("root_hash"), d.get("checkpoint")) != \
            (ROOT_ACTION, receipt.get("shard"), receipt.get("shard"), receipt.get("tree_size"),
             receipt.get("root_hash"), cp.get("note")):
        return "the root entry records another checkpoint than the receipt's"
    if not verify_inclusion(leaf_hash(bytes.fromhex(entry.entry_hash)), position, size, path, root):
        return "the root entry's inclusion proof does not lead to the root checkpoint"
    root_cp = link.get("checkpoint")
    if not isinstance(root_cp, Mapping) or root_cp.get("size") != size or root_cp.get("root_hash") != link["root_hash"]:
        return "the root log's checkpoint is missing or is not the link's tree"
    if not verify_signature(root_cp):
        return "the root log's checkpoint signature does not verify"
    return None
