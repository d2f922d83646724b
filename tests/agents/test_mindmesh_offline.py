from __future__ import annotations

from agents.mindmesh_models import AnswerIn
from agents.mindmesh_offline import NO_ANSWER, answer, terms


def test_answer_quotes_the_passage_that_answers_and_cites_it() -> None:
    passages = [
        "Release notes for version 10. The dashboard got a new theme.",
        "To rotate the audit log, set retention to 7 years in Settings. Then restart the agent.",
        "Patient portal login uses single sign-on.",
    ]
    plan = answer(AnswerIn(question="How long is audit log retention?", passages=passages))
    assert "7 years" in plan.answer and "[2]" in plan.answer
    assert 2 in plan.citations and all(1 <= c <= 3 for c in plan.citations)


def test_no_overlap_says_so_without_citations() -> None:
    plan = answer(AnswerIn(question="quantum chromodynamics lattice", passages=["Sprint notes."]))
    assert plan.answer == NO_ANSWER and plan.citations == []


def test_korean_question_matches_korean_passage() -> None:
    passages = [
        "설치 방법: 에이전트를 설치하려면 관리자 권한이 필요합니다.",
        "Unrelated English text.",
    ]
    plan = answer(AnswerIn(question="에이전트 설치 권한", passages=passages))
    assert plan.citations == [1] and "관리자 권한" in plan.answer


def test_terms_drop_stopwords_and_split_cjk_into_bigrams() -> None:
    assert terms("What is the PHI policy?") == {"phi", "policy"}
    assert {"설치", "치하"} <= terms("설치하다")
