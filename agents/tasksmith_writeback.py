"""TaskSmith write-back: an approved proposal's subtasks become Jira issues under the epic.

Idempotent by construction, whatever failed and wherever:

- Each created key is saved in the proposal (``jiraKeys``: order → key) as soon as Jira answers,
  so a retry skips it.
- Every issue carries two labels, ``clinisight-<proposal>`` and ``clinisight-<proposal>-s<n>``.
  Before creating anything, a retry searches the epic's children for them: an issue Jira
  created but whose answer was lost (a timeout, a 502 after the commit, a crash before the save)
  is found and recorded, never created twice. The Jira client does not retry creates for the
  same reason (see ``agents.jira_client``).
- A lease in the proposal (``approval``) keeps two concurrent approvals from racing.

The proposal turns ``approved`` once every subtask has a key. Every created key is also logged
to ``clinisight.audit`` and handed to ``on_created`` (the ingress appends it to the tenant's
audit trail).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agents.jira_client import JiraAuthError, JiraClient, JiraError
from agents.tasksmith import TaskSmith
from agents.tasksmith_models import SubtaskPlan
from store.state import StateStore

audit = logging.getLogger("clinisight.audit")

LEASE_S = 120.0
LABEL_PREFIX = "clinisight-"


class ProposalNotFound(LookupError):
    """No such proposal for this tenant (HTTP 404)."""


class ProposalConflict(Exception):
    """The proposal cannot be approved now: superseded, or another approval runs (HTTP 409)."""


class ApprovalResult(BaseModel):
    """What an approval did. ``status``: approved (every subtask exists) or partial."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    proposal_id: str
    epic_key: str
    status: str
    created: dict[str, str] = Field(description="Subtask order → Jira key, created this call.")
    recovered: dict[str, str] = Field(description="Found in Jira from an earlier attempt.")
    jira_keys: dict[str, str] = Field(description="Every subtask's key so far.")
    errors: list[str] = Field(default_factory=list)


def proposal_label(proposal_id: str) -> str:
    return LABEL_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "-", proposal_id)


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text.strip() else []


def adf_description(sub: SubtaskPlan, proposal_id: str) -> dict[str, Any]:
    """The subtask as an Atlassian Document Format document (REST v3 requires ADF)."""
    content: list[dict[str, Any]] = []
    for para in sub.description.split("\n\n"):
        if para.strip():
            content.append({"type": "paragraph", "content": _text(para.strip())})
    content.append({"type": "heading", "attrs": {"level": 3},
                    "content": _text("Acceptance criteria")})
    content.append({"type": "bulletList", "content": [
        {"type": "listItem", "content": [{"type": "paragraph", "content": _text(c)}]}
        for c in sub.acceptance_criteria if c.strip()]})
    content.append({"type": "paragraph", "content": _text(
        f"Estimate: {sub.story_points} story points. Proposed by Clinisight TaskSmith "
        f"({proposal_id}).")})
    return {"type": "doc", "version": 1, "content": content}


def issue_fields(sub: SubtaskPlan, epic_key: str, proposal_id: str,
                 issue_type: str) -> dict[str, Any]:
    label = proposal_label(proposal_id)
    labels = [re.sub(r"\s+", "-", x.strip()) for x in sub.labels if x.strip()]
    return {
        "project": {"key": epic_key.rsplit("-", 1)[0]},
        "parent": {"key": epic_key},
        "issuetype": {"name": issue_type},
        "summary": sub.title[:255],
        "description": adf_description(sub, proposal_id),
        "labels": sorted({*labels, label, f"{label}-s{sub.order}"}),
    }


def _find(state: dict[str, Any], proposal_id: str) -> dict[str, Any]:
    for p in state.get("proposals", []):
        if p["proposalId"] == proposal_id:
            return dict(p)
    raise ProposalNotFound(f"no proposal {proposal_id!r}")


class WriteBack:
    """Approves TaskSmith proposals into Jira, through TaskSmith's own state."""

    def __init__(self, state: StateStore, issue_type: str = "Task",
                 on_created: Callable[[str, str], Awaitable[None]] | None = None) -> None:
        """``on_created(proposal_id, key)`` runs once per issue this approval created."""
        self.agent = TaskSmith(state)
        self.issue_type = issue_type
        self.on_created = on_created

    async def _update(self, tenant: str, proposal_id: str, apply: Any) -> dict[str, Any]:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            for p in state.get("proposals", []):
                if p["proposalId"] == proposal_id:
                    apply(p)
                    return dict(p)
            raise ProposalNotFound(f"no proposal {proposal_id!r}")
        proposal, _ = await self.agent.update_state(tenant, change)
        return proposal

    async def _claim(self, tenant: str, proposal_id: str, lease: str) -> dict[str, Any]:
        now = datetime.now(UTC)

        def take(p: dict[str, Any]) -> None:
            if p["status"] == "superseded":
                raise ProposalConflict(
                    f"proposal {proposal_id!r} was superseded by a newer one for {p['epicKey']}")
            held = p.get("approval") or {}
            if held.get("lease") not in (None, lease) and held.get("until", "") > now.isoformat():
                raise ProposalConflict(f"proposal {proposal_id!r} is being approved right now")
            p["approval"] = {"lease": lease,
                             "until": (now + timedelta(seconds=LEASE_S)).isoformat()}
        return await self._update(tenant, proposal_id, take)

    async def approve(self, tenant: str, proposal_id: str, approver: str,
                      jira: JiraClient) -> ApprovalResult:
        record = await self.agent.load(tenant)
        proposal = _find(record.data if record else {}, proposal_id)
        epic = proposal["epicKey"]
        if proposal["status"] == "approved":
            keys = dict(proposal.get("jiraKeys") or {})
            return ApprovalResult(proposal_id=proposal_id, epic_key=epic, status="approved",
                                  created={}, recovered={}, jira_keys=keys)
        lease = uuid.uuid4().hex
        proposal = await self._claim(tenant, proposal_id, lease)
        subtasks = [SubtaskPlan.model_validate(s) for s in proposal["subtasks"]]
        keys = dict(proposal.get("jiraKeys") or {})
        created: dict[str, str] = {}
        recovered: dict[str, str] = {}
        errors: list[str] = []
        try:
            if any(str(s.order) not in keys for s in subtasks):
                recovered = await self._recover(jira, epic, proposal_id, keys)
                if recovered:
                    keys.update(recovered)
                    await self._update(tenant, proposal_id, lambda p: p.setdefault(
                        "jiraKeys", {}).update(recovered))
                    for key in recovered.values():  # created earlier, recorded only now
                        await self._created(tenant, approver, proposal_id, key)
            for sub in subtasks:
                order = str(sub.order)
                if order in keys:
                    continue
                try:
                    issue = await jira.create_issue(
                        issue_fields(sub, epic, proposal_id, self.issue_type))
                except JiraError as exc:
                    errors.append(f"subtask {order}: {exc}")
                    if isinstance(exc, JiraAuthError):
                        break  # every further call would fail the same way
                    continue
                keys[order] = created[order] = issue.key
                await self._update(tenant, proposal_id, lambda p, o=order, k=issue.key:
                                   p.setdefault("jiraKeys", {}).__setitem__(o, k))
                await self._created(tenant, approver, proposal_id, issue.key)
        except JiraError as exc:  # the recovery search failed: create nothing blind
            errors.append(f"search for earlier subtasks: {exc}")
        done = all(str(s.order) in keys for s in subtasks)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")

        def finish(p: dict[str, Any]) -> None:
            p.pop("approval", None)
            if done:
                p.update(status="approved", approvedBy=approver, approvedAt=stamp)
            p.setdefault("writeback", []).append(
                {"at": stamp, "by": approver, "created": created, "recovered": recovered,
                 "errors": errors})
        await self._update(tenant, proposal_id, finish)
        return ApprovalResult(proposal_id=proposal_id, epic_key=epic,
                              status="approved" if done else "partial", created=created,
                              recovered=recovered, jira_keys=keys, errors=errors)

    async def _created(self, tenant: str, approver: str, proposal_id: str, key: str) -> None:
        audit.info("tenant=%s actor=%s action=jira.create_issue proposal=%s key=%s",
                   tenant, approver, proposal_id, key)
        if self.on_created is not None:
            await self.on_created(proposal_id, key)

    @staticmethod
    async def _recover(jira: JiraClient, epic: str, proposal_id: str,
                       known: dict[str, str]) -> dict[str, str]:
        """Subtasks an earlier attempt created but did not record, by their marker labels."""
        label = proposal_label(proposal_id)
        found = await jira.search(f'parent = "{epic}" AND labels = "{label}"',
                                  fields=["labels"], limit=200)
        out: dict[str, str] = {}
        for issue in found:
            for tag in issue.get("fields", {}).get("labels") or []:
                m = re.fullmatch(re.escape(label) + r"-s(\d+)", str(tag))
                if m and m.group(1) not in known:
                    out.setdefault(m.group(1), str(issue["key"]))
        return out
