"""Payload factories built from the real fixtures in ../shared/fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.utils.servers import SHARED

JIRA = SHARED / "fixtures" / "jira"
FORGE = SHARED / "fixtures" / "forge"


def jira_files() -> list[Path]:
    return sorted(JIRA.glob("*.json"))


def forge_event_files() -> list[Path]:
    return sorted(FORGE.glob("avi_*.json"))


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def jira_epic(key: str = "CARE-7", summary: str = "Patient portal lab results",
              description: str = "* Show lab results to patients\n* Notify by email",
              labels: list[str] | None = None) -> dict[str, Any]:
    """The real issue_created webhook, its issue turned into an epic with the given content."""
    payload = copy.deepcopy(load(JIRA / "mattermost__webhook-cloud-issue-created-many-fields.json"))
    issue = payload["issue"]
    issue["key"] = key
    issue["id"] = str(abs(hash(key)) % 10**6)
    f = issue["fields"]
    f["issuetype"] = {**f["issuetype"], "name": "Epic", "hierarchyLevel": 1}
    f["summary"] = summary
    f["description"] = description
    f["labels"] = labels if labels is not None else ["portal"]
    return payload


def forge_epic(key: str = "CARE-8", summary: str = "Telehealth visit scheduling",
               retry: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": "avi:jira:created:issue",
        "atlassianId": "5cedcb4355a88a0fc86388ba",
        "eventCreatedDate": "2026-11-25T09:00:00.000Z",
        "issue": {
            "id": "30001",
            "key": key,
            "fields": {
                "summary": summary,
                "issuetype": {"id": "10000", "name": "Epic", "hierarchyLevel": 1},
                "project": {"key": key.split("-")[0]},
            },
        },
    }
    if retry is not None:
        payload["retryContext"] = {"retryCount": retry, "retryReason": "TIMEOUT"}
    return payload
