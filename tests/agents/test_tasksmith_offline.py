from __future__ import annotations

from agents.tasksmith_models import EpicIn
from agents.tasksmith_offline import plan_epic, requirement_lines


def epic(summary: str, description: str = "", labels: list[str] | None = None) -> EpicIn:
    return EpicIn(key="K-1", id="1", summary=summary, description=description,
                  labels=labels or [])


def kinds(plan_labels: list[list[str]]) -> set[str]:
    return {label for labels in plan_labels for label in labels}


def test_patient_data_epic_gets_phi_handling_and_hipaa_review_before_rollout() -> None:
    plan = plan_epic(epic(
        "Patient discharge summary export",
        "Clinicians export the discharge summary to the referring provider over HL7.\n"
        "* Include medications and allergies\n* Record who exported it",
    ))
    titles = [s.title for s in plan.subtasks]
    labels = kinds([s.labels for s in plan.subtasks])
    assert {"phi", "hipaa-review", "integration", "testing", "rollout"} <= labels
    assert titles.index(next(t for t in titles if "HIPAA" in t)) < len(titles) - 1
    assert titles[0].startswith("Refine requirements")
    assert titles[-1].startswith("Rollout")
    assert any("Include medications and allergies" in t for t in titles)
    assert any("HL7" in t for t in titles)
    assert [s.order for s in plan.subtasks] == list(range(1, len(titles) + 1))


def test_non_clinical_epic_has_no_hipaa_review() -> None:
    plan = plan_epic(epic("Migrate CI pipeline to new runners",
                          "* Move build jobs\n* Decommission the legacy runners"))
    labels = kinds([s.labels for s in plan.subtasks])
    assert "hipaa-review" not in labels and "phi" not in labels
    assert "migration" in labels


def test_phi_label_alone_triggers_privacy_work() -> None:
    plan = plan_epic(epic("Quarterly export", labels=["phi"]))
    assert "hipaa-review" in kinds([s.labels for s in plan.subtasks])


def test_breakdown_depends_on_content_not_a_fixed_list() -> None:
    a = plan_epic(epic("Appointment reminders by SMS for patients"))
    b = plan_epic(epic("Clinician dashboard for bed census reporting"))
    assert [s.title for s in a.subtasks] != [s.title for s in b.subtasks]
    assert "notifications" in kinds([s.labels for s in a.subtasks])
    assert {"ui", "reporting"} <= kinds([s.labels for s in b.subtasks])


def test_size_bounds_and_estimates() -> None:
    many = "\n".join(f"* Requirement number {i} for the clinic" for i in range(20))
    big = plan_epic(epic("Patient portal", many))
    small = plan_epic(epic("설명 없는 에픽"))  # Korean, no known keywords
    for plan in (big, small):
        assert 3 <= len(plan.subtasks) <= 12
        assert all(s.story_points in (1, 2, 3, 5, 8, 13) for s in plan.subtasks)
        assert all(s.acceptance_criteria for s in plan.subtasks)
    assert any("remaining requirements" in s.title for s in big.subtasks)


def test_requirement_lines_strip_wiki_markup() -> None:
    text = "h2. Scope\n* *Bold* item with [a link|http://x]\n# numbered step here\nplain line"
    assert requirement_lines(text) == ["Bold item with a link", "numbered step here"]
