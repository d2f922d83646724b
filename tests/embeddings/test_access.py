"""The access rule (issue #14): space VIEW, the page's restriction, every restricted ancestor's."""

from __future__ import annotations

from typing import Any

import pytest

from embeddings.access import (
    DENY,
    Expr,
    PageAccessFacts,
    allows,
    expr_id,
    page_expr,
    reader_tokens,
    restriction_clause,
    space_clause,
)

VIEW = {"key": "read", "targetType": "space"}
SPACE = space_clause([
    {"principal": {"type": "group", "id": "gid-staff"}, "operation": VIEW},
    {"principal": {"type": "user", "id": "acc-A"}, "operation": VIEW},
    {"principal": {"type": "user", "id": "acc-B"}, "operation": VIEW},
    # Another operation names C: it grants no VIEW.
    {"principal": {"type": "user", "id": "acc-C"},
     "operation": {"key": "create", "targetType": "page"}},
])

A = reader_tokens("acc-A")
B = reader_tokens("acc-B")
C = reader_tokens("acc-C")
STAFF = reader_tokens("acc-S", [{"id": "gid-staff", "name": "staff"}])
NURSE = reader_tokens("acc-N", [{"id": "gid-staff", "name": "staff"},
                                {"id": "gid-nurses", "name": "nurses"}])
OUTSIDER = reader_tokens("acc-X", [{"id": "gid-other", "name": "other"}])


def restriction(users: tuple[str, ...] | list[str] = (),
                groups: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    return {"operation": "read", "restrictions": {
        "user": {"results": [{"type": "known", "accountId": u} for u in users],
                 "size": len(users)},
        "group": {"results": [{"type": "group", "name": g, "id": f"gid-{g}"} for g in groups],
                  "size": len(groups)}}}


def expr(own: dict[str, Any] | None = None, *ancestors: dict[str, Any] | None) -> Expr:
    own_clause = restriction_clause(own) if own is not None else None
    chain = [(str(i), restriction_clause(a) if a is not None else None)
             for i, a in enumerate(ancestors)]
    return page_expr(SPACE, PageAccessFacts("p", own_clause, chain))


def test_space_member_reads_an_unrestricted_page_and_a_non_member_does_not() -> None:
    e = expr()
    assert allows(e, A) and allows(e, STAFF)
    assert not allows(e, OUTSIDER)


def test_a_page_restricted_to_a_user_or_a_group_admits_them_and_nobody_else() -> None:
    e = expr(restriction(users=["acc-A"], groups=["nurses"]))
    assert allows(e, A) and allows(e, NURSE)
    assert not allows(e, B) and not allows(e, STAFF) and not allows(e, OUTSIDER)


def test_restricted_parent_governs_an_unrestricted_child() -> None:
    e = expr(None, restriction(users=["acc-A"]))
    assert allows(e, A)
    assert not allows(e, B) and not allows(e, STAFF)


def test_every_restricted_ancestor_holds_not_just_the_nearest() -> None:
    # Parent {A}, child {A, B}: B is named by the child but not by the parent.
    child = expr(restriction(users=["acc-A", "acc-B"]), restriction(users=["acc-A"]))
    assert allows(child, A) and not allows(child, B)
    # Grandparent {A}, parent {A, B}, child unrestricted: the nearest does not win.
    e = expr(None, restriction(users=["acc-A"]), restriction(users=["acc-A", "acc-B"]))
    assert allows(e, A) and not allows(e, B)


def test_a_restriction_naming_someone_without_space_view_does_not_admit_them() -> None:
    assert not allows(expr(restriction(users=["acc-C"])), C)


def test_unreadable_ancestor_unreadable_page_or_no_space_grant_denies() -> None:
    unreadable = page_expr(SPACE, PageAccessFacts("p", None, [("9", ())]))
    assert not any(allows(unreadable, r) for r in (A, B, STAFF, NURSE))
    assert page_expr(SPACE, None) == DENY and not allows(DENY, A)
    nobody = page_expr(space_clause([]), PageAccessFacts("p", None, []))
    assert not allows(nobody, A)


def test_anonymous_role_lets_anyone_view_and_unknown_roles_grant_nothing() -> None:
    anyone = space_clause([{"principal": {"type": "role", "id": "ANONYMOUS"},
                            "operation": {"key": "read", "targetType": "space"}}])
    odd = space_clause([{"principal": {"type": "role", "id": "SOMETHING_NEW"},
                         "operation": {"key": "read", "targetType": "space"}}])
    facts = PageAccessFacts("p", None, [])
    assert allows(page_expr(anyone, facts), OUTSIDER)
    assert not allows(page_expr(odd, facts), OUTSIDER)


def test_restriction_lists_not_expanded_or_cut_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="user list"):
        restriction_clause({"operation": "read", "restrictions": {"group": {"results": []}}})
    cut = restriction(users=["acc-A"])
    cut["restrictions"]["user"]["totalSize"] = 5
    with pytest.raises(ValueError, match="cut"):
        restriction_clause(cut)
    assert restriction_clause(restriction()) is None  # restricted to nobody = unrestricted


def test_equal_access_shares_one_id_and_different_access_does_not() -> None:
    one = expr(restriction(users=["acc-B", "acc-A"]))
    two = expr(restriction(users=["acc-A", "acc-B"]))
    assert expr_id(one) == expr_id(two)
    assert expr_id(one) != expr_id(expr(restriction(users=["acc-A"])))
