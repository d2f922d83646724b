"""TaskSmith: an epic becomes proposed subtasks with estimates and acceptance criteria.

A proposal is identified by the epic and a hash of its content, so a redelivered or re-driven
event, or an update that does not change the epic, adds nothing and costs no reasoning. A new
version of the epic supersedes the epic's earlier unapproved proposals. Proposals stay
proposals until approved (write-back to Jira is a separate step).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from agents.base import Agent
from agents.events import AgentEvent
from agents.reasoners import ReasoningRequest
from agents.tasksmith_models import EpicIn, Proposal, TaskSmithPlan
from agents.tasksmith_offline import plan_epic

SYSTEM_PROMPT = """You are TaskSmith, a delivery lead for healthcare software teams.
Break the Jira epic you are given into 3 to 12 subtasks a team can start on, in a sensible order:
requirements first, then design and build work, tests, and rollout. Each subtask has a concise
title, a description, concrete testable acceptance criteria and a story-point estimate on the
Fibonacci scale (1, 2, 3, 5, 8, 13). Where the epic involves patient data (PHI), include PHI
handling (minimum necessary, encryption, no PHI in logs) and a HIPAA privacy and security review.
Derive the subtasks from what the epic actually says; do not pad with generic work.
Placeholders such as [NAME] or [MRN] stand for redacted patient data."""

HANDLED = {"issue_created", "issue_updated"}


def content_hash(epic: EpicIn) -> str:
    material = json.dumps(
        [epic.summary, epic.description, sorted(epic.labels), sorted(epic.components),
         epic.priority],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


class TaskSmith(Agent):
    name = "TaskSmith"

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        issue = event.issue
        if event.kind not in HANDLED or issue is None or not issue.is_epic:
            return {"action": "none", "reason": "not an epic created or updated"}
        epic = EpicIn(
            key=issue.key,
            id=issue.id,
            summary=issue.summary,
            description=issue.description,
            labels=issue.labels,
            components=issue.components,
            priority=issue.priority,
            project_key=issue.project_key,
        )
        return await self.propose(event.tenant, epic, event.event_id)

    async def propose(self, tenant: str, epic: EpicIn, event_id: str) -> dict[str, Any]:
        digest = content_hash(epic)
        proposal_id = f"{epic.key}-{digest}"
        current = await self.load(tenant)
        existing = [p for p in (current.data if current else {}).get("proposals", [])
                    if p["proposalId"] == proposal_id]
        if existing:
            return {"action": "unchanged", "proposalId": proposal_id}
        plan, produced_by, fallback = await self.reason(
            ReasoningRequest(
                tenant=tenant,
                task="propose_subtasks",
                system=SYSTEM_PROMPT,
                input=epic,
                output=TaskSmithPlan,
                offline=plan_epic,
            )
        )
        proposal = Proposal(
            proposal_id=proposal_id,
            epic_key=epic.key,
            epic_id=epic.id,
            event_id=event_id,
            content_hash=digest,
            subtasks=sorted(plan.subtasks, key=lambda s: s.order),
            rationale=plan.rationale,
            produced_by=produced_by,
            fallback_reason=fallback,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ).model_dump(mode="json", by_alias=True)

        def merge(state: dict[str, Any]) -> str:
            proposals = state.setdefault("proposals", [])
            if any(p["proposalId"] == proposal_id for p in proposals):
                return "unchanged"  # a concurrent run of the same event got there first
            for p in proposals:
                if p["epicKey"] == epic.key and p["status"] == "proposed":
                    p["status"] = "superseded"
            proposals.append(proposal)
            return "proposed"

        action, _ = await self.update_state(tenant, merge)
        return {
            "action": action,
            "proposalId": proposal_id,
            "subtasks": len(plan.subtasks),
            "producedBy": produced_by,
            "fallbackReason": fallback,
        }
