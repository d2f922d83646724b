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


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("경찰은 A씨를 불러 조사했다.", "A"),
        ("B(45)씨가 신고했다.", "B"),
        ("피해자 K(17)군은 병원으로 옮겨졌다.", "K"),
    ],
)
def test_a_person_named_by_a_latin_letter(text: str, letter: str) -> None:
    start = text.index(letter)
    assert (start, start + 1) in spans(text)


@pytest.mark.parametrize("text", ["A형 간염 환자가 늘었다.", "K리그 경기가 열렸다."])
def test_a_latin_letter_without_a_person_cue_is_not_a_name(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a name of Korean shape before a title, an honorific or a parenthesis
        ("배우 김도은 씨가 시상식에 왔다.", "김도은"),
        ("민태식 판사는 선고를 미뤘다.", "민태식"),
        ("신인 윤도준(경남FC)이 골을 넣었다.", "윤도준"),
        # a name glued to more than a particle (reviews drop spaces)
        ("그때부터 한석규에 열광했다.", "한석규"),
        ("별로였고 송강호싫음.", "송강호"),
        # a transliterated proper noun before a particle
        ("하지만 케이틀린이 먼저 도착했다.", "케이틀린"),
        ("마르셀로가 골을 넣었다.", "마르셀로"),
    ],
)
def test_names_found_by_shape_and_morphology(text: str, name: str) -> None:
    assert name in names(text)


def test_the_chinese_characters_after_a_name_are_part_of_it() -> None:
    text = "보호자 김영희(金英姬) 씨가 왔다."
    assert names(text) == ["김영희", "金英姬"]


@pytest.mark.parametrize(
    "text",
    [
        "트위터는 새 기능을 발표했다.",
        "삼성전자는 실적을 발표했다.",
        "외환은행은 대출을 늘렸다.",
        "공무원(42)이 구속됐다.",
        "연구원 (서울) 측은 부인했다.",
    ],
)
def test_organisations_before_a_particle_or_a_parenthesis_are_left_alone(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a title written as one word with what it heads: 물류실장, 선관위원장
        ("한도윤 물류실장은 회의를 주재했다.", "한도윤"),
        ("정 전 선관위원장은 답하지 않았다.", "정"),
        # titles of chefs, poets, governors
        ("방송에서 권 셰프가 요리를 했다.", "권"),
        ("하 시인은 새 시집을 냈다.", "하"),
        # 씨 after any short word: a given name, a stage name
        ("지난주 다솜 씨가 병원에 왔다.", "다솜"),
        # kinship words and endearments glued to a name
        ("어제 민지누나가 전화했다.", "민지"),
        ("역시 박도겸쌤 수업이 최고다.", "박도겸"),
        # a name ending like a place (…구, …도)
        ("어제 김경도는 두 골을 넣었다.", "김경도"),
        # a name Kiwi cuts into pieces of no meaning
        ("그 장면에서 윤채영은 울었다.", "윤채영"),
        # the part played, and the actor in parentheses
        ("그는 '서준' 역을 맡았다.", "서준"),
        ("주인공 팀장(박하진)의 대사가 좋았다.", "박하진"),
    ],
)
def test_names_found_by_cues_and_shapes(text: str, name: str) -> None:
    assert name in names(text)


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        # a name found makes the other items of its list names
        ("김도현 씨, 서하린, 유리아가 함께 왔다.", ["김도현", "서하린", "유리아"]),
        ("보호자 김도현과 나리아가 면회했다.", ["김도현", "나리아"]),
    ],
)
def test_names_listed_with_a_name(text: str, listed: list[str]) -> None:
    assert all(name in names(text) for name in listed)


def test_a_name_found_once_is_found_again() -> None:
    text = "보호자 장무결 씨가 서명했다. 이후 장무결이 다시 전화했다."
    assert names(text).count("장무결") == 2


@pytest.mark.parametrize(
    "text",
    [
        # places, stations, common nouns and organisations next to the new cues
        "서울역에서 만나기로 했다.",
        "그는 무기징역을 선고받았다.",
        "지하철 역에서 내렸다.",
        "이 병원장은 회의에 늦었다.",
        "이 영화는 정말 지루했다.",
        "현상은 그대로였고 조항은 바뀌었다.",
        "강남구와 서초구가 합의했다.",
        "혈액형은 A형이다.",
        "고향(서울)에서 자랐다.",
        "사과, 배, 귤을 샀다.",
        "정부와 여당이 합의했다.",
        "택시아저씨가 친절했다.",
        "옆집 아저씨가 왔다.",
        "손 솜씨가 좋고 마음씨가 곱다.",
    ],
)
def test_places_and_common_words_stay_readable(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # medicines are transliterated proper nouns before a particle, like foreign names
        "환자는 아스피린을 복용했다.",
        "메트포르민을 증량하고 아토르바스타틴의 용량은 유지했다.",
        "리툭시맙이 투여됐다.",
        "타이레놀을 먹고 잤다.",
    ],
)
def test_medicines_stay_readable(text: str) -> None:
    assert names(text) == []


def test_a_name_that_is_an_everyday_word_is_not_spread() -> None:
    text = "시인 이상 씨의 시를 읽었다. 두 시간 이상 걸렸다."
    found = spans(text)
    later = text.index("이상", 10)
    assert (later, later + 2) not in found


@pytest.mark.parametrize(
    "text",
    [
        "버튼을 클릭하여 원하는 역할을 고르세요.",  # 원 is a surname; 원하는 is "desired"
        "선택된 항목만 내보냅니다.",
        "변수명과 선택창을 확인하세요.",
    ],
)
def test_predicates_and_common_compounds_in_technical_text_are_not_names(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # names ending in 인, which Kiwi reads as a noun and the copula or the suffix -인
        ("오늘 회진에서 정웅인의 상처를 다시 소독했다.", "정웅인"),
        ("최정인 씨가 검사 결과를 물었다.", "최정인"),
        ("담당의는 환자 한정인의 검사 결과를 설명했다.", "한정인"),
        # a surname and two syllables Kiwi knows as no word, with no cue at all
        ("오혜상은 어제 저녁 응급실에 다시 왔다.", "오혜상"),
        ("박기형 연락이 닿지 않아 문자를 남겼다.", "박기형"),
    ],
)
def test_korean_full_names_that_kiwi_misreads(text: str, name: str) -> None:
    assert name in names(text)


@pytest.mark.parametrize(
    "text",
    [
        "조업하는 선박은 주의해야 한다.",  # a verb: 조업/하/는
        "추가 합격 여부는 아직 모른다.",  # 여부 + 는: a known noun and a particle
        "우연히 알게 된 사실이다.",  # an adverb
        "오토바이를 타고 왔다.",  # a loanword Kiwi reads whole
        "이분은 누구세요?",  # "this person"
        "보호자 한국인 남성이 동행했다.",  # a nationality after a role
    ],
)
def test_words_of_a_full_names_shape_stay_readable(text: str) -> None:
    assert names(text) == []


def test_a_foreign_name_kiwi_does_not_know_before_a_particle() -> None:
    assert "몰렌코프" in names("환자 몰렌코프는 통증을 호소했다.")


@pytest.mark.parametrize(
    "text",
    [
        "오케스트레이터가 이벤트를 라우팅한다.",  # a verbal noun before 하다
        "파티셔닝을 다시 한다.",  # English -ing
        "트리아지가 끝났다.",  # triage: clinical words stay readable
        "템플릿을 수정했다.",  # a word of software before a particle
    ],
)
def test_loanwords_before_a_particle_stay_readable(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "배포 전에 스테이징 환경에서 통합 테스트를 모두 통과해야 합니다.",
        "로그에는 환자 식별 정보가 남지 않도록 마스킹 규칙을 적용합니다.",
        "퇴원 교육 자료는 한국어와 영어로 제공됩니다.",
        "회의록은 컨플루언스 스페이스에 저장하고 지라 이슈에 링크합니다.",
        "이 페이지는 분기마다 품질 관리팀이 검토합니다.",
        "지라에서 에픽을 만들면 태스크스미스가 하위 작업을 만듭니다.",
        "다이나모DB에 상태 스냅샷을 저장합니다.",
        "야간 근무 인수인계 시 활력징후 변화를 반드시 기록합니다.",
    ],
)
def test_technical_and_clinical_prose_stays_readable(text: str) -> None:
    assert names(text) == []
