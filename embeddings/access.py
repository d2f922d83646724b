"""Who may read a page: access expressions, built from Confluence's permissions, and the check.

The rule (issue #14, DESIGN.md "Who may read what"): a person reads a page when they hold VIEW
on its space, the page's own read restriction (if any) names them or one of their groups, and
so does the read restriction of **every** restricted ancestor. Restrictions are inherited
through the whole chain; the nearest restricted ancestor does not override the others (Onyx
lets the closest one win, which over-grants).

An expression is a conjunction of clauses; a clause is the set of principals one condition
accepts, as tokens: ``u:<accountId>``, ``g:<group id>``, ``gn:<group name>`` (restrictions
name groups by name and id, space permissions by id; both are kept) and ``*`` (anyone: an
anonymous space grant). A reader satisfies a clause when it shares a token with it. An empty
clause accepts nobody: that is how an unreadable ancestor, a permission the app could not read
or a space without grants denies, with no special case to forget.

Expressions are canonical (tokens and clauses sorted, duplicate clauses dropped), so equal
access gets equal ids: a space's pages share a handful of them, and the index stores the id
beside each page's chunks (``index.shard``), so a permission change re-points pages without
re-embedding them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "ANYONE",
    "DENY",
    "Clause",
    "Expr",
    "PageAccessFacts",
    "allows",
    "expr_id",
    "page_expr",
    "reader_tokens",
    "restriction_clause",
    "space_clause",
]

Clause = tuple[str, ...]  # sorted principal tokens; empty: nobody
Expr = tuple[Clause, ...]  # sorted clauses, all must hold
ANYONE = "*"
DENY: Expr = ((),)

# Space-permission roles (v2 ``principal.type == "role"``) that let everyone view. Any other
# role is not understood here and grants nothing: unknown means deny.
_ANYONE_ROLES = frozenset({"ANONYMOUS", "anonymous"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def canonical(clauses: Iterable[Iterable[str]]) -> Expr:
    return tuple(sorted({tuple(sorted(set(c))) for c in clauses}))


def expr_id(expr: Expr) -> str:
    """A stable id for an expression (the same on every replica and in every snapshot)."""
    raw = json.dumps(expr, separators=(",", ":")).encode()
    return "ax-" + hashlib.sha256(raw).hexdigest()[:20]


def allows(expr: Expr, tokens: frozenset[str]) -> bool:
    """Whether a reader holding ``tokens`` (``reader_tokens``) satisfies every clause."""
    return all(not tokens.isdisjoint(clause) for clause in expr)


def reader_tokens(account_id: str, groups: Iterable[Mapping[str, Any]] = ()) -> frozenset[str]:
    """The tokens of a reader: their accountId, each group's id and name, and ``*``."""
    tokens = {ANYONE, f"u:{account_id}"}
    for group in groups:
        if group.get("id"):
            tokens.add(f"g:{group['id']}")
        if group.get("name"):
            tokens.add(f"gn:{group['name']}")
    return frozenset(tokens)


def restriction_clause(restriction: Mapping[str, Any]) -> Clause | None:
    """The clause of one v1 ``ContentRestriction`` for ``read``; None when it restricts nothing.

    ``restriction`` is ``{"operation": "read", "restrictions": {"user": {"results": [...]},
    "group": {"results": [...]}}}`` (the ``restrictions.read`` expansion, or
    ``byOperation``'s ``read``). Users are named by ``accountId``, groups by ``id`` and ``name``.
    A restriction listing nobody is no restriction. Raises ``ValueError`` when the user or
    group lists were not expanded, or are cut (``size`` below ``totalSize``): a partial list
    must not be read as the whole.
    """
    inner = _dict(restriction.get("restrictions"))
    tokens: set[str] = set()
    for kind in ("user", "group"):
        listing = inner.get(kind)
        if not isinstance(listing, dict) or not isinstance(listing.get("results"), list):
            raise ValueError(f"read restriction without its {kind} list expanded")
        total = listing.get("totalSize")
        if isinstance(total, int) and total > len(listing["results"]):
            raise ValueError(f"read restriction {kind} list cut at {len(listing['results'])} "
                             f"of {total}")
        for item in listing["results"]:
            item = _dict(item)
            if kind == "user" and item.get("accountId"):
                tokens.add(f"u:{item['accountId']}")
            elif kind == "group":
                if item.get("id"):
                    tokens.add(f"g:{item['id']}")
                if item.get("name"):
                    tokens.add(f"gn:{item['name']}")
    return tuple(sorted(tokens)) if tokens else None


def space_clause(assignments: Iterable[Mapping[str, Any]]) -> Clause:
    """Who holds VIEW (``read`` on ``space``) among v2 space permission assignments
    (``GET /wiki/api/v2/spaces/{id}/permissions``: ``{"principal": {"type", "id"},
    "operation": {"key", "targetType"}}``). No grant: the empty clause, nobody."""
    tokens: set[str] = set()
    for item in assignments:
        op = _dict(item.get("operation"))
        if op.get("key") != "read" or op.get("targetType") != "space":
            continue
        principal = _dict(item.get("principal"))
        kind, pid = principal.get("type"), principal.get("id")
        if not isinstance(pid, str) or not pid:
            continue
        if kind == "user":
            tokens.add(f"u:{pid}")
        elif kind == "group":
            tokens.add(f"g:{pid}")
        elif kind == "role" and pid in _ANYONE_ROLES:
            tokens.add(ANYONE)
    return tuple(sorted(tokens))


class PageAccessFacts:
    """What Confluence says of one page's read access: its own restriction's clause (None:
    unrestricted) and each ancestor's, root first (None: unrestricted; the empty clause: its
    restrictions could not be read, which denies)."""

    __slots__ = ("ancestors", "own", "page_id")

    def __init__(self, page_id: str, own: Clause | None,
                 ancestors: list[tuple[str, Clause | None]]) -> None:
        self.page_id = page_id
        self.own = own
        self.ancestors = ancestors


def page_expr(space: Clause, facts: PageAccessFacts | None) -> Expr:
    """The expression for a page: space VIEW, its own restriction, every restricted ancestor's.

    No facts (the page's own restrictions could not be read): deny.
    """
    if facts is None:
        return DENY
    clauses: list[Clause] = [space]
    if facts.own is not None:
        clauses.append(facts.own)
    clauses.extend(c for _, c in facts.ancestors if c is not None)
    return canonical(clauses)
