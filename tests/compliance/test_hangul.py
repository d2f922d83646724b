"""compliance._hangul: person names written in Hangul (sentences written for these tests)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from compliance import _hangul
from compliance._kinds import PhiKind


def names(text: str) -> list[str]:
    return [text[start:end] for start, end, _, _ in _hangul.detect_names(text)]


def spans(text: str) -> list[tuple[int, int]]:
    return [(start, end) for start, end, _, _ in _hangul.detect_names(text)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # full names, with a cue and without
        ("보호자 김영희 called at 3pm about the discharge.", "김영희"),
        ("김철수 환자는 오늘 오전에 퇴원했습니다.", "김철수"),
        ("남궁민수 씨가 진료 예약을 변경했다.", "남궁민수"),
        ("담당 간호사는 박서연 선생님입니다.", "박서연"),
        ("어제 회의에서 최준호가 결과를 발표했다.", "최준호"),
        # particles and honorifics glued to the name
        ("김영희가 접수처에 서류를 냈다.", "김영희"),
        ("김영희씨의 남편이 전화했다.", "김영희"),
        ("정민재님께 결과지를 보냈습니다.", "정민재"),
        # foreign names in Hangul, by their cue
        ("트럼프 대통령이 기자회견을 열었다.", "트럼프"),
        # a name with an age in parentheses
        ("환자 이도윤(34)은 어지럼증을 호소했다.", "이도윤"),
    ],
)
def test_names_are_found(text: str, name: str) -> None:
    assert name in names(text)


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("박씨는 오후에 다시 오겠다고 했다.", "박"),
        ("경찰은 김모(33)씨를 불러 조사했다.", "김"),
        ("이 모 씨가 병원비를 냈다.", "이"),
        ("김 교수가 회진을 돌았다.", "김"),
        ("심 전 의원은 입장을 밝히지 않았다.", "심"),
        ("최모 씨와 보호자가 함께 왔다.", "최"),
    ],
)
def test_bare_surname_with_a_cue(text: str, surname: str) -> None:
    start = text.index(surname)
    assert (start, start + len(surname)) in spans(text)


def test_candidates_are_name_kind_and_rank() -> None:
    found = list(_hangul.detect_names("보호자 김영희 씨가 왔다."))
    assert found == [(4, 7, PhiKind.NAME, 4)]


@pytest.mark.parametrize(
    "text",
    [
        "서울에서 부산까지 기차로 세 시간이 걸린다.",
        "삼성과 현대는 올해 실적을 발표했다.",
        "오늘 회의는 오후 세 시에 시작합니다.",
        "서울대병원 응급실이 붐볐다.",
        "이 환자는 어제 입원했다.",
        "정부가 새 정책을 발표했다.",
        "이번 주말에는 비가 온다고 한다.",
        "한국의 여름은 덥고 습하다.",
        "날씨가 좋아서 아저씨와 산책했다.",
    ],
)
def test_places_organisations_and_common_words_are_left_alone(text: str) -> None:
    assert names(text) == []


def test_exact_offsets_in_mixed_text() -> None:
    text = "Ticket KT-22: 보호자 김영희 씨 (010-1234-5678) asked about 박철수 환자."
    assert names(text) == ["김영희", "박철수"]
    start = text.index("김영희")
    assert spans(text)[0] == (start, start + 3)


def test_surrogates_emoji_and_cjk_do_not_shift_offsets() -> None:
    text = "\ud800😀漢字 보호자 김영희 씨 \udfff"
    start = text.index("김영희")
    assert spans(text) == [(start, start + 3)]


def test_no_hangul_returns_at_once_without_loading_kiwi() -> None:
    code = (
        "import sys\n"
        "from compliance import _hangul\n"
        "assert list(_hangul.detect_names('Patient John Smith, MRN 00913377 ' * 1000)) == []\n"
        "assert list(_hangul.detect_names('')) == []\n"
        "assert _hangul._kiwi is None\n"
        "assert 'kiwipiepy' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_jamo_only_text_does_not_load_kiwi() -> None:
    code = (
        "from compliance import _hangul\n"
        "assert list(_hangul.detect_names('ㅋㅋㅋ ㅠㅠ ok')) == []\n"
        "assert _hangul._kiwi is None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_offsets_are_exact_across_segment_boundaries() -> None:
    filler = "오늘은 날씨가 맑다. " * 150  # ~1,800 characters, near the segment size
    text = (filler + "보호자 김영희 씨가 전화했다.\n") * 4 + "x" * 3000 + " 박철수 환자가 왔다."
    assert len(text) > 3 * _hangul._SEGMENT
    found = spans(text)
    expected = []
    pos = 0
    for name in ["김영희"] * 4 + ["박철수"]:
        pos = text.index(name, pos)
        expected.append((pos, pos + 3))
        pos += 3
    assert found == expected


def test_a_name_cut_by_a_hard_segment_limit_is_still_exact() -> None:
    # No space, no line end: segments are cut hard; every span must still be a real name.
    text = "가" * (_hangul._SEGMENT * 2 + 5) + " 보호자 김영희 씨"
    found = spans(text)
    start = text.index("김영희")
    assert (start, start + 3) in found
    assert all(text[a:b] == "김영희" for a, b in found)


def test_long_mixed_script_input_is_handled_in_linear_time() -> None:
    unit = "Lorem ipsum 보호자 김영희 씨 漢字 😀 \x00\ud800 ㅋㅋ 1234 "
    text = unit * 20_000  # ~1 MB of mixed script
    started = time.process_time()
    found = spans(text)
    elapsed = time.process_time() - started
    assert len(found) == 20_000
    assert all(text[a:b] == "김영희" for a, b in found)
    assert elapsed < 20, elapsed


def test_binary_decoded_as_text_does_not_crash() -> None:
    blob = bytes(range(256)) * 400 + "환자 김영희".encode() + bytes(range(255, -1, -1)) * 400
    text = blob.decode("utf-8", errors="surrogateescape")
    assert "김영희" in names(text)
    text = blob.decode("latin-1")
    assert names(text) == []


def test_long_run_without_spaces_is_bounded() -> None:
    text = "김" * 200_000
    started = time.process_time()
    found = spans(text)
    assert time.process_time() - started < 20
    assert all(0 <= a < b <= len(text) for a, b in found)
