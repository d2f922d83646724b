"""TaskSmith's offline planner: a deterministic, healthcare-aware epic breakdown.

It reads what the epic says (summary, description, labels, components) and builds the plan from
that: the themes it touches (patient data, UI, integrations, notifications, access, reporting,
migration) and the explicit requirement lines of the description (bullets and numbered items
become their own subtasks). Requirements come first, PHI handling and a HIPAA review appear when
patient data is involved, tests and rollout close the plan. Always 3–12 subtasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.tasksmith_models import EpicIn, SubtaskPlan, TaskSmithPlan

FIB = (1, 2, 3, 5, 8, 13)

THEMES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "phi": r"\b(patients?|phi|ehr|emr|medical records?|health records?|clinical|clinicians?|"
        r"diagnos\w*|medications?|prescriptions?|lab results?|labs?|hl7|fhir|hipaa|ssn|"
        r"insurance|member id|discharge\w*|admissions?|vitals?|allerg\w*|immuni[sz]ations?|"
        r"care plans?|encounters?|mrn|date of birth|dob|triage|referrals?|telehealth)\b",
        "ui": r"\b(ui|ux|screens?|pages?|forms?|dashboards?|portal|views?|buttons?|mobile|"
        r"front[- ]?end|display|widgets?|wizard|self[- ]service|kiosk|app)\b",
        "integration": r"\b(apis?|integrat\w*|hl7|fhir|interfaces?|sync\w*|import\w*|export\w*|"
        r"webhooks?|third[- ]party|vendors?|feeds?|sftp|edi|x12|cerner|athena\w*|"
        r"twilio|pharmacy system|lab system|payer)\b",
        "data": r"\b(stor\w+|databases?|schemas?|tables?|records?|fields?|data model|"
        r"persist\w*|history|audit trail|capture)\b",
        "notify": r"\b(notif\w*|alerts?|remind\w*|emails?|sms|text messages?|push|pager)\b",
        "access": r"\b(roles?|permissions?|access control|login|sso|authenticat\w*|"
        r"authori[sz]\w*|consent|break[- ]glass|rbac)\b",
        "reporting": r"\b(reports?|reporting|analytics|metrics?|kpis?|quality measures?|"
        r"census|csv)\b",
        "migration": r"\b(migrat\w*|backfill\w*|legacy|cutover|decommission\w*)\b",
    }.items()
}
SYSTEMS = re.compile(
    r"\b(HL7(?: v2)?|FHIR(?: R4)?|X12|EDI|SFTP|Cerner|athenahealth|Athena|Twilio|Okta|"
    r"Surescripts|DocuSign|Salesforce|Workday|LDAP|SMART on FHIR)\b"
)
_BULLET = re.compile(r"^\s*(?:[*#-]+|\d+[.)])\s+(.*\S)\s*$")
_WIKI_MARKUP = re.compile(r"\{[^}]*\}|\[([^|\]]*)\|[^\]]*\]|[*_+^~]{1,2}(?=\w)|(?<=\w)[*_+^~]{1,2}")
_HEADING = re.compile(r"^\s*h\d\.\s*", re.IGNORECASE)


@dataclass
class _Task:
    kind: str
    title: str
    description: str
    criteria: list[str]
    points: int


def _clean(text: str) -> str:
    text = _HEADING.sub("", text)
    text = _WIKI_MARKUP.sub(lambda m: m.group(1) or "", text)
    return re.sub(r"\s+", " ", text).strip(" .;:")


def requirement_lines(description: str) -> list[str]:
    """Bullet and numbered lines of the description, markup removed, duplicates dropped."""
    seen: set[str] = set()
    items = []
    for line in description.splitlines():
        m = _BULLET.match(line)
        if not m:
            continue
        item = _clean(m.group(1))
        if len(item.split()) < 2 or item.lower() in seen:
            continue
        seen.add(item.lower())
        items.append(item[:160])
    return items


def _step(points: int, up: int) -> int:
    i = min(range(len(FIB)), key=lambda j: abs(FIB[j] - points))
    return FIB[max(0, min(len(FIB) - 1, i + up))]


def _subject(epic: EpicIn) -> str:
    subject = _clean(epic.summary) or epic.key
    return subject if len(subject) <= 70 else subject[:67].rstrip() + "..."


def plan_epic(epic: EpicIn) -> TaskSmithPlan:
    text = " ".join([epic.summary, epic.description, *epic.labels, *epic.components])
    themes = {name for name, rx in THEMES.items() if rx.search(text)}
    # Labels such as "phi" or "hipaa" are a team's explicit statement that patient data is in play.
    if {lbl.lower() for lbl in epic.labels} & {"phi", "hipaa", "pii", "patient-data"}:
        themes.add("phi")
    systems = sorted({m.group(1) for m in SYSTEMS.finditer(text)})
    items = requirement_lines(epic.description)
    subject = _subject(epic)
    # Bigger epics: a long description or many explicit requirements raise every estimate a step.
    up = 1 if len(epic.description) > 1500 or len(items) > 6 else 0
    phi = "phi" in themes

    tasks: list[_Task] = [
        _Task(
            "requirements",
            f"Refine requirements and acceptance criteria: {subject}",
            f"Walk through '{subject}' with the product owner"
            + (" and a clinical stakeholder" if phi else "")
            + "; turn the epic into testable user stories and list what is out of scope.",
            [
                "User stories with acceptance criteria are agreed and linked to the epic",
                "Open questions and out-of-scope items are written down",
            ]
            + (["A clinical stakeholder has reviewed the workflows"] if phi else []),
            2,
        )
    ]
    if phi:
        tasks.append(
            _Task(
                "phi",
                f"PHI inventory and handling design for {subject}",
                "List every PHI element this work reads, stores or shows; apply the minimum "
                "necessary standard; decide encryption at rest and in transit, retention, and "
                "redaction in logs, analytics and error reports.",
                [
                    "Each PHI field is listed with its purpose and who may see it",
                    "No PHI appears in logs, error reports or test fixtures",
                    "Encryption at rest and in transit is confirmed for every store touched",
                ],
                3,
            )
        )
    if "data" in themes or phi or "migration" in themes:
        tasks.append(
            _Task(
                "data-model",
                f"Data model and storage for {subject}",
                "Design the entities, fields and relationships this epic needs, with migrations "
                "and indexes; record where each field comes from.",
                [
                    "Schema and migrations are reviewed and applied in a test environment",
                    "Fields holding PHI are marked and protected as designed",
                ]
                if phi
                else ["Schema and migrations are reviewed and applied in a test environment"],
                3,
            )
        )
    for item in items:
        tasks.append(
            _Task(
                "feature",
                f"Implement: {item}",
                f"Build '{item}' as described in {epic.key}.",
                [f"'{item}' works end to end as described in the epic", "Covered by tests"],
                3 if len(item) < 60 else 5,
            )
        )
    if "integration" in themes:
        what = ", ".join(systems) if systems else "the external systems named in the epic"
        tasks.append(
            _Task(
                "integration",
                f"Integration with {what}",
                f"Connect to {what}: contracts, authentication, error handling, retries and "
                "idempotency; a sandbox or stub of the partner for tests.",
                [
                    "Messages are validated against the partner's specification",
                    "Failures are retried and surfaced, never silently dropped",
                ]
                + (["A BAA covers every vendor that receives PHI"] if phi else []),
                5 if len(systems) <= 1 else 8,
            )
        )
    if "access" in themes or phi:
        tasks.append(
            _Task(
                "access",
                "Role-based access control and audit logging",
                "Restrict who can read and change this data by role; record every access in "
                "the audit log.",
                [
                    "Only permitted roles can view or edit the records",
                    "Every read and change lands in the audit log with user and time",
                ],
                3,
            )
        )
    if "ui" in themes:
        tasks.append(
            _Task(
                "ui",
                f"User interface for {subject}",
                "Screens and interactions for the workflows agreed in the requirements, with "
                "empty, loading and error states.",
                [
                    "Screens match the agreed designs and workflows",
                    "Meets WCAG 2.1 AA (keyboard, contrast, screen reader labels)",
                ]
                + (["PHI is masked where the role does not need it"] if phi else []),
                5,
            )
        )
    if "notify" in themes:
        tasks.append(
            _Task(
                "notifications",
                "Notifications and reminders",
                "Send the notifications the epic describes, with opt-out and rate limits.",
                ["Notifications are sent on the agreed triggers"]
                + (
                    ["Messages carry no PHI beyond what the recipient is entitled to"]
                    if phi
                    else ["Users can opt out"]
                ),
                3,
            )
        )
    if "reporting" in themes:
        tasks.append(
            _Task(
                "reporting",
                f"Reporting for {subject}",
                "Reports or metrics the epic asks for, from the stored data.",
                ["Figures reconcile with the source data"]
                + (["Reports are de-identified unless the audience needs PHI"] if phi else []),
                3,
            )
        )
    if "migration" in themes:
        tasks.append(
            _Task(
                "migration",
                "Data migration and backfill",
                "Move existing data into the new model with a dry run, reconciliation and a "
                "rollback plan.",
                ["Dry run reconciles record counts", "Rollback has been rehearsed"],
                5,
            )
        )
    tasks.append(
        _Task(
            "testing",
            f"Automated tests for {subject}",
            "Unit, integration and end-to-end tests for the new behaviour"
            + (", using synthetic patient data only." if phi else "."),
            ["Tests run in CI and pass", "Edge cases from the acceptance criteria are covered"]
            + (["No real patient data in any test or fixture"] if phi else []),
            3,
        )
    )
    if phi:
        tasks.append(
            _Task(
                "hipaa-review",
                "HIPAA privacy and security review",
                "Privacy/security officer reviews the PHI handling, access controls and audit "
                "logging before release; findings are fixed or accepted in writing.",
                [
                    "Review sign-off is recorded on the epic",
                    "Risk assessment updated for the new PHI flows",
                ],
                2,
            )
        )
    tasks.append(
        _Task(
            "rollout",
            f"Rollout: {subject}",
            "Release behind a feature flag, pilot with one team"
            + (" or clinic" if phi else "")
            + ", monitor, then enable for everyone; write the runbook.",
            ["Feature flag and rollback plan in place", "Monitoring and alerting configured"],
            2,
        )
    )
    tasks = _fit(tasks)
    subtasks = [
        SubtaskPlan(
            title=t.title[:255],
            description=t.description,
            acceptance_criteria=t.criteria,
            story_points=_step(t.points, up),
            labels=sorted({*epic.labels, t.kind}),
            order=i + 1,
        )
        for i, t in enumerate(tasks)
    ]
    return TaskSmithPlan(
        subtasks=subtasks,
        rationale=(
            f"Offline breakdown of {epic.key}: themes "
            f"{', '.join(sorted(themes)) or 'none detected'}; "
            f"{len(items)} explicit requirement line(s) in the description"
            + (f"; systems: {', '.join(systems)}" if systems else "")
            + "."
        ),
    )


def _fit(tasks: list[_Task], limit: int = 12) -> list[_Task]:
    """At most ``limit`` tasks: surplus feature items are folded into the last feature task."""
    if len(tasks) <= limit:
        return tasks
    features = [t for t in tasks if t.kind == "feature"]
    keep = len(features) - (len(tasks) - limit) - 1
    if keep < 0:  # pragma: no cover - the fixed tasks alone never exceed the limit
        return tasks[:limit]
    folded = features[keep:]
    merged = _Task(
        "feature",
        f"Implement remaining requirements ({len(folded)} items)",
        "Build the remaining items from the epic: " + "; ".join(t.title[11:] for t in folded),
        [c for t in folded for c in t.criteria[:1]] + ["Covered by tests"],
        8 if len(folded) > 2 else 5,
    )
    out, placed = [], False
    for t in tasks:
        if t in folded:
            if not placed:
                out.append(merged)
                placed = True
            continue
        out.append(t)
    return out
