"""Tests of simreg.domain.merkle against the RFC 6962 definitions and the
Certificate Transparency reference vectors.

The reference functions below transcribe RFC 6962 §2.1 literally (recursion,
list slices), so the level-by-level implementation is checked against the
definition and not against itself.
"""

from __future__ import annotations

import hashlib

import pytest

from simreg.domain import merkle
from simreg.domain.merkle import (
    EMPTY_ROOT,
    TreeHeads,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_of_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- RFC 6962 §2.1, transcribed ----------------------------------------------------------


def _k(n: int) -> int:
    """The largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], complete), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- the Certificate Transparency reference vectors -------------------------------------

CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [  # tree sizes 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (0-based leaf index, tree size, path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]

# Audit-log-like leaves: 32-byte entry hashes.
LEAVES = [hashlib.sha256(f"entry {i}".encode()).digest() for i in range(70)]


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# --- tree heads ---------------------------------------------------------------------------


def test_the_root_of_the_empty_tree_is_sha256_of_the_empty_string():
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_of_leaf_hashes([]) == EMPTY_ROOT
    assert TreeHeads().root() == EMPTY_ROOT


def test_roots_match_the_certificate_transparency_reference_vectors():
    for n, want in enumerate(CT_ROOTS):
        assert root(CT_LEAVES[:n]).hex() == want, f"size {n}"


def test_leaf_and_node_hashes_carry_the_rfc_6962_prefixes():
    a, b = b"left", b"right"
    assert leaf_hash(a) == hashlib.sha256(b"\x00" + a).digest()
    assert node_hash(leaf_hash(a), leaf_hash(b)) == hashlib.sha256(
        b"\x01" + leaf_hash(a) + leaf_hash(b)).digest()
    assert node_hash(leaf_hash(a), leaf_hash(b)) != node_hash(leaf_hash(b), leaf_hash(a))


def test_a_leaf_cannot_pose_as_an_interior_node():
    # Without the 0x00/0x01 prefixes a one-leaf tree whose data is two child
    # hashes would have the same head as the two-leaf tree.
    two = [b"a", b"b"]
    forged_single_leaf = leaf_hash(b"a") + leaf_hash(b"b")
    assert root([forged_single_leaf]) != root(two)


def test_root_follows_the_rfc_6962_split_for_every_size_up_to_70():
    for n in range(len(LEAVES) + 1):
        assert root(LEAVES[:n]) == ref_mth(LEAVES[:n]), f"size {n}"


def test_the_split_is_at_the_largest_power_of_two_and_not_the_midpoint():
    d = LEAVES[:6]  # RFC: 4 + 2; a midpoint split would be 3 + 3
    want = node_hash(node_hash(node_hash(leaf_hash(d[0]), leaf_hash(d[1])),
                               node_hash(leaf_hash(d[2]), leaf_hash(d[3]))),
                     node_hash(leaf_hash(d[4]), leaf_hash(d[5])))
    assert root(d) == want


def test_tree_heads_gives_the_root_of_every_prefix_in_one_pass():
    heads = TreeHeads()
    for n, leaf in enumerate(LEAVES, start=1):
        heads.append(leaf)
        assert heads.size == n
        assert heads.root() == ref_mth(LEAVES[:n]), f"size {n}"


# --- inclusion ------------------------------------------------------------------------------


@pytest.mark.parametrize("index, size, path", CT_INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index, size, path):
    proof = inclusion_proof(index, CT_LEAVES[:size])
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof,
                            bytes.fromhex(CT_ROOTS[size]))


def test_inclusion_proof_is_rfc_6962_path_and_verifies_for_every_index_of_sizes_1_to_20():
    for n in range(1, 21):
        leaves = LEAVES[:n]
        head = root(leaves)
        for i in range(n):
            proof = inclusion_proof(i, leaves)
            assert proof == ref_path(i, leaves), f"index {i} of {n}"
            assert verify_inclusion(leaf_hash(leaves[i]), i, n, proof, head), f"index {i} of {n}"


def test_forged_inclusion_proofs_fail_for_every_index_of_sizes_1_to_20():
    for n in range(1, 21):
        leaves = LEAVES[:n]
        head = root(leaves)
        for i in range(n):
            lh = leaf_hash(leaves[i])
            proof = inclusion_proof(i, leaves)
            where = f"index {i} of {n}"
            for k in range(len(proof)):
                for bit in (0, 7):
                    flipped = [*proof[:k], _flip(proof[k], bit), *proof[k + 1:]]
                    assert not verify_inclusion(lh, i, n, flipped, head), where
            for j in range(n):
                if j != i:
                    assert not verify_inclusion(lh, j, n, proof, head), f"{where} claimed at {j}"
            for m in range(1, 25):
                # a different size, with that size's own root
                if m != n:
                    other_root = root(LEAVES[:m])
                    assert not verify_inclusion(lh, i, m, proof, other_root), f"{where} as size {m}"
            if proof:
                assert not verify_inclusion(lh, i, n, proof[:-1], head), where
                assert not verify_inclusion(lh, i, n, proof[1:], head), where
                if len(proof) > 1 and proof[0] != proof[1]:
                    swapped = [proof[1], proof[0], *proof[2:]]
                    assert not verify_inclusion(lh, i, n, swapped, head), where
            assert not verify_inclusion(lh, i, n, [*proof, bytes(32)], head), where
            assert not verify_inclusion(_flip(lh), i, n, proof, head), where
            assert not verify_inclusion(lh, i, n, proof, _flip(head)), where
            # the leaf's data instead of its leaf hash is a different leaf
            assert not verify_inclusion(leaves[i], i, n, proof, head), where


def test_the_tree_size_is_bound_by_the_signed_root_not_by_the_proof():
    """RFC 9162 verification takes size and root together: leaf 0 of 8 has the
    same path shape in a tree of 7, so the proof verifies against the size-8
    root with size 7 claimed.  Hence size and root must come from one signed
    checkpoint (simreg signs them together)."""
    proof = inclusion_proof(0, LEAVES[:8])
    assert verify_inclusion(leaf_hash(LEAVES[0]), 0, 7, proof, root(LEAVES[:8]))
    assert not verify_inclusion(leaf_hash(LEAVES[0]), 0, 7, proof, root(LEAVES[:7]))


def test_a_proof_cannot_span_a_tree_twice_its_size_or_more():
    roots = [root(LEAVES[:n]) for n in range(len(LEAVES) + 1)]
    for n in range(1, 18):
        for big in range(2 * n, 4 * n):
            for i in range(n):
                proof = inclusion_proof(i, LEAVES[:n])
                assert not verify_inclusion(leaf_hash(LEAVES[i]), i, big, proof, roots[n]), (i, n, big)
            for m in range(1, n):
                proof = consistency_proof(m, LEAVES[:n])
                assert not verify_consistency(m, big, roots[m], roots[n], proof), (m, n, big)


def test_verify_inclusion_says_false_to_malformed_input_without_raising():
    leaves = LEAVES[:5]
    head, proof, lh = root(leaves), inclusion_proof(3, leaves), leaf_hash(leaves[3])
    assert verify_inclusion(lh, 3, 5, proof, head)
    assert not verify_inclusion(lh, 5, 5, proof, head)
    assert not verify_inclusion(lh, -1, 5, proof, head)
    assert not verify_inclusion(lh, 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(lh[:31], 3, 5, proof, head)
    assert not verify_inclusion(lh, 3, 5, proof, head[:31])
    assert not verify_inclusion(lh, 3, 5, [proof[0][:31], *proof[1:]], head)
    assert not verify_inclusion(lh, 3, 5, None, head)
    assert not verify_inclusion(lh, 3, 5, ["not bytes"] * len(proof), head)


def test_inclusion_proof_refuses_an_index_outside_the_tree():
    with pytest.raises(ValueError):
        inclusion_proof(5, LEAVES[:5])
    with pytest.raises(ValueError):
        inclusion_proof(-1, LEAVES[:5])
    with pytest.raises(ValueError):
        inclusion_proof(0, [])


def test_a_one_leaf_tree_has_an_empty_proof_and_its_leaf_hash_as_root():
    assert inclusion_proof(0, LEAVES[:1]) == []
    assert root(LEAVES[:1]) == leaf_hash(LEAVES[0])
    assert verify_inclusion(leaf_hash(LEAVES[0]), 0, 1, [], root(LEAVES[:1]))
    assert not verify_inclusion(leaf_hash(LEAVES[1]), 0, 1, [], root(LEAVES[:1]))


# --- consistency ------------------------------------------------------------------------------


@pytest.mark.parametrize("m, n, want", CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(m, n, want):
    proof = consistency_proof(m, CT_LEAVES[:n])
    assert [p.hex() for p in proof] == want
    assert verify_consistency(m, n, bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n]), proof)


def test_consistency_proof_is_rfc_6962_proof_and_verifies_for_every_pair_up_to_24():
    roots = [root(LEAVES[:n]) for n in range(25)]
    for n in range(1, 25):
        for m in range(0, n + 1):
            proof = consistency_proof(m, LEAVES[:n])
            if 0 < m < n:
                assert proof == ref_subproof(m, LEAVES[:n], True), f"{m} -> {n}"
            else:
                assert proof == [], f"{m} -> {n}"
            assert verify_consistency(m, n, roots[m], roots[n], proof), f"{m} -> {n}"


def test_forged_consistency_proofs_fail():
    roots = [root(LEAVES[:n]) for n in range(25)]
    for n in range(2, 25):
        for m in range(1, n):
            proof = consistency_proof(m, LEAVES[:n])
            where = f"{m} -> {n}"
            for k in range(len(proof)):
                flipped = [*proof[:k], _flip(proof[k]), *proof[k + 1:]]
                assert not verify_consistency(m, n, roots[m], roots[n], flipped), where
            assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1]), where
            assert not verify_consistency(m, n, roots[m], roots[n], [*proof, bytes(32)]), where
            assert not verify_consistency(m, n, _flip(roots[m]), roots[n], proof), where
            assert not verify_consistency(m, n, roots[m], _flip(roots[n]), proof), where
            assert not verify_consistency(n, m, roots[n], roots[m], proof), where
            # a rewritten history: the old tree's leaf m-1 changed
            rewritten = [*LEAVES[:m - 1], b"rewritten", *LEAVES[m:n]]
            assert not verify_consistency(m, n, roots[m], root(rewritten),
                                          consistency_proof(m, rewritten)), where


def test_consistency_of_equal_sizes_and_of_the_empty_tree():
    r4, r5 = root(LEAVES[:4]), root(LEAVES[:5])
    assert verify_consistency(4, 4, r4, r4, [])
    assert not verify_consistency(4, 4, r4, r5, [])
    assert not verify_consistency(4, 4, r4, r4, [bytes(32)])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r4, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [bytes(32)])
    assert not verify_consistency(2, 5, root(LEAVES[:2]), r5, [])
    assert not verify_consistency(-1, 5, EMPTY_ROOT, r5, [])


def test_consistency_proof_refuses_sizes_outside_the_tree():
    with pytest.raises(ValueError):
        consistency_proof(6, LEAVES[:5])
    with pytest.raises(ValueError):
        consistency_proof(-1, LEAVES[:5])


def test_hash_size_is_sha256s():
    assert merkle.HASH_SIZE == 32 == len(root(LEAVES[:3]))


def test_the_frontier_is_the_proof_of_the_next_leaf():
    from simreg.domain.merkle import TreeHeads, inclusion_proof, verify_inclusion

    leaves = [bytes([i]) * 32 for i in range(70)]
    heads = TreeHeads()
    for n, leaf in enumerate(leaves):
        expected = inclusion_proof(n, leaves[: n + 1])
        assert heads.proof_of_next() == expected, n
        heads.append(leaf)
        assert verify_inclusion(leaf_hash(leaf), n, n + 1, expected, heads.root())
