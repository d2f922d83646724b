"""compliance._hangul_model: the fitted second opinion on Hangul words the rules leave alone
(sentences written for these tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance import _hangul, _hangul_model

_RUN = re.compile("[\uac00-\ud7a3]+")


def names(text: str) -> list[str]:
    return [text[start:end] for start, end, _, _ in _hangul.detect_names(text)]


def candidate_of(text: str, word: str) -> int | None:
    _hangul._load()
    start = text.index(word)
    end = _RUN.match(text, start).end()  # type: ignore[union-attr]
    return _hangul_model.candidate(text, start, end)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a given name alone, with neither a cue nor a surname
        ("간호사는 수진에게 약을 건넸다.", "수진"),
        ("미경이가 어제 병원에 왔다.", "미경이"),
    ],
)
def test_names_without_cue_or_surname_are_found_by_the_model(text: str, name: str) -> None:
    assert name in names(text)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("보고서를 제출했다.", "보고서를"),  # a common noun Kiwi knows
        ("결과를 확인했다.", "확인했다"),  # a verb
        ("컨플루언스 스페이스를 다시 색인합니다.", "컨플루언스"),  # a safe loanword Kiwi splits
        ("스테이징 환경에서 배포한다.", "스테이징"),  # English -ing
        ("삼성전자는 실적을 발표했다.", "삼성전자는"),  # an organisation's ending
        ("서초구가 합의했다.", "서초구가"),  # a district: 서초역 is in Kiwi's dictionary
        ("케어트랙이 SLA 위반을 알립니다.", "알립니다"),  # a verb Kiwi reads oddly alone
    ],
)
def test_words_that_are_never_candidates(text: str, word: str) -> None:
    assert candidate_of(text, word) is None


def test_a_run_longer_than_any_word_is_never_a_candidate() -> None:
    text = "가" * 200 + " 환자"
    assert _hangul_model.candidate(text, 0, 200) is None


def test_no_feature_is_the_word_itself() -> None:
    # The model weighs evidence about a word, not the word: it must carry over to names it
    # never saw. Its first and last syllables are features; the whole word is not.
    text = "오늘 아침 후나코시가 외래에 왔다."
    _hangul._load()
    runs = [m.span() for m in _RUN.finditer(text)]
    i = next(k for k, (a, _) in enumerate(runs) if text.startswith("후나코시", a))
    length = _hangul_model.candidate(text, *runs[i])
    assert length == 4
    feats = _hangul_model.features(text, runs, i, length)
    assert not any("후나코시" in f or "나코" in f for f in feats)


def test_without_its_weights_the_model_stays_silent_and_the_rules_still_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_hangul_model, "_DATA", tmp_path / "absent.json")
    monkeypatch.setattr(_hangul_model, "_model", None)
    assert _hangul_model.model() is None
    assert names("간호사는 수진에게 약을 건넸다.") == []  # the model's find, gone
    assert names("환자 김영희 씨가 내원했다.") == ["김영희"]  # the rules', still there


def test_the_shipped_weights_load_with_a_threshold() -> None:
    m = _hangul_model.model()
    assert m is not None and 0 < m.threshold < 1 and len(m.weights) > 100
