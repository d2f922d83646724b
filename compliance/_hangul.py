"""Person names written in Hangul: 김철수, 남궁민수, 박씨, 김모(33)씨, 김 교수, 트럼프 대통령.

Korean text has no capital letters to say where a name is, so three kinds of evidence are
combined, from the cheapest to the dearest:

* **Surname cues** (patterns only): a census surname followed by 씨/군/양, by 모 ("김모(33)씨",
  "이 모 씨"), or by a title ("김 교수", "박 대통령", "심 전 의원"). A bare surname is a person
  reference only with such a cue; without one 이, 정, 한 ... are everyday words.
* **Morphology** (kiwipiepy's Kiwi): a word is analysed into morphemes; a proper noun (NNP) or
  an unknown noun (OOV) is the name candidate, the particles after it (가, 의, 씨의 ...) are cut
  off, so ``김영희씨의`` gives ``김영희``.
* **Who it is**: a candidate is a person when a person cue stands next to it (씨, 님, 환자,
  보호자, 교수, 대통령, 감독, 기자, an age in parentheses ...; or a role word before it: 배우,
  가수, 환자, 보호자, 아내 ...), when it has the shape of a Korean name (census surname and one
  or two syllables, not a place or an organisation we know), or when it is a token of a person's
  name in Kiwi's WikiData dictionary (the entries that WikiData says are humans, Q5: 트럼프,
  디카프리오). Places (서울, 부산, 강남), countries, companies and common nouns are left alone.
* **Patterns that need no morphology**: a person the news names by a Latin letter (A씨, B(44)씨,
  K군); a word of a Korean name's shape before a title, an honorific, an age or a parenthesis
  (김도은 씨, 윤도준(경남FC)), which Kiwi often splits (김/도/은); the name in Chinese
  characters in parentheses after a found name (김영희(金英姬)).
* **Proper nouns before a particle**: a transliterated proper noun before a subject, object,
  topic or genitive particle (로빈슨의, 케이틀린이) or one that WikiData knows mostly as a word of
  people's names, unless it ends like an organisation, a place (…은행, …전자, …시티) or a
  medicine (…스타틴, …포르민, 아스피린: clinical text must keep its drugs readable).
* **More cues**: titles written as one word with what they head (교통물류실장, 선관위원장);
  kinship words and endearments (지혜누나, 박도겸쌤); any short word before 씨 (강인 씨); the part
  an actor plays ('서준' 역을, 메이 역의) and the actor in parentheses (팀장(송혜교)).
* **Shapes Kiwi garbles**: a common surname and two syllables before a particle that Kiwi cuts
  into pieces of no meaning (김/상/중이, 윤/채/영은), and names that end like a place (여진구,
  김경도) when the rest is not a place we know.
* **Spreading**: a word listed or coordinated with a found name (한가인, 김정훈, 전혜빈의;
  장혁과 오연서의) is a name when Kiwi reads it as a proper noun or it has a name's shape; a name
  found once is found at its other mentions in the text (particles after it).

Speed: Kiwi costs about 3-5 ms per KB of Korean, over the budget of this layer, so it is not run
over the whole text. Each run of Hangul syllables is first screened by patterns: only a run that
starts with a surname, starts with a known person-name token or stands next to a cue is
analysed (alone, without its sentence, which is enough for a name and keeps the cost bounded per
word), and the analyses and the screens of words are kept in bounded LRU caches: everyday words
repeat. Text without a Hangul syllable returns at once and
never loads Kiwi. Kiwi is built once per process, lazily, under a lock, single-threaded
(``num_workers=0``), and warmed up.

Robustness: text is walked in segments of bounded size (split at line and sentence ends, else at
a space, else hard); every pattern is linear, every look around a word reads a window of fixed
size, and what Kiwi sees is at most ``_MAX_RUN`` syllables, so time is linear in the text and
memory bounded whatever the input (binary decoded as text, 10 MB without a space, lone
surrogates: those never reach Kiwi, which only sees Hangul syllables).
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from compliance import _hangul_model
from compliance._hangul_facts import (  # noqa: F401  (read by compliance._hangul_model too)
    _AMBIGUOUS_BEFORE_TITLE,
    _COMMON_SURNAMES,
    _COMPOUND_SURNAMES,
    _CUE_ENDINGS,
    _DRUG_ENDING,
    _HONORIFIC_AFTER,
    _KIN,
    _LOAN_SYLLABLES,
    _LOANWORD_ENDINGS,
    _NAME_ONLY_CUES,
    _NNP_NOT_NAME_ENDINGS,
    _NOT_HONORIFIC,
    _NOT_NAME_ENDINGS,
    _NOT_PERSONS,
    _ORG_ENDING,
    _PARTICLE,
    _PERSON_PARTICLES,
    _PLACE_ENDINGS,
    _PLAYS,
    _RARE_SURNAMES,
    _ROLES_BEFORE,
    _SURNAMES,
    _TITLE,
    _TITLE_SET,
    _TITLE_TAILS,
    _TITLES,
)
from compliance._kinds import Candidate, PhiKind
from compliance._loanwords import SAFE_LOANWORDS

__all__ = ["detect_names"]

NAME_RANK = 4  # as compliance._context.NAME_RANK: a name guessed from context

# ---------------------------------------------------------------- patterns

_SYLLABLE = "\uac00-\ud7a3"
_HANGUL = re.compile(f"[{_SYLLABLE}\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
_RUN = re.compile(f"[{_SYLLABLE}]+")
_MAX_RUN = 24  # syllables given to Kiwi at most: a name is short, the rest of a run is not
_SEGMENT = 2000  # characters per segment at most
_SEGMENT_END = re.compile(r"[\n\r]+|(?<=[.!?。])\s+")

_S = "|".join(sorted(_SURNAMES | _COMPOUND_SURNAMES, key=len, reverse=True))
_NB = f"(?<![{_SYLLABLE}])"  # not after a syllable: the surname starts a word
# (33), (33세), (남·33), (33·여): an age in parentheses after a name
_AGE = (
    r"(?:\s?\(\s?(?:[0-9]{1,3}|[남여]\s?[·,]?\s?[0-9]{1,3}|[0-9]{1,3}\s?[·,]\s?[남여]"
    r"|[0-9]{1,3}\s?세)\s?\))"
)
# 김모(33)씨, 이 모 씨, 허모 씨, 박모(22)씨, 여모(57) 상무, 김모 교수
_SURNAME_MO = re.compile(rf"{_NB}({_S})\s?모(?:{_AGE}\s?(?:{_TITLES})?|\s?(?:{_TITLES}))")
# 박씨는, 김 씨, 박군, 정양 (an honorific right after a bare surname)
_SURNAME_HONORIFIC = re.compile(
    rf"{_NB}({_S})(\s?)(씨|군|양|옹)(?=(?:{_PARTICLE})(?![{_SYLLABLE}]))"
)
# 김 교수, 박 대통령, 심 전 의원, 조 부사장은
_SURNAME_TITLE = re.compile(
    rf"{_NB}({_S}) (전 |前 |현 )?({_TITLE})(?={_PARTICLE}(?![{_SYLLABLE}]))"
)
# 전 전 청장: the first 전 is the surname, the second "former"
_JEON_JEON = re.compile(rf"{_NB}(전) 전 (?:{_TITLES})")
_AGE_AFTER = re.compile(rf"{_AGE}")
# A씨, K군, B(45)씨, C(17·고2)양, D 기자: a person whom the news names by a Latin letter.
_LATIN_PERSON = re.compile(
    rf"(?<![A-Za-z0-9&.\-])([A-Z])(?:\s?\([^()\n]{{1,12}}\))?\s?"
    rf"(?:씨|군|양|옹|모 씨|모씨|기자|교수|의원|판사|검사|변호사|의사|간호사|환자|교사|감독|선수"
    rf"|회장|사장|원장|부장|과장|팀장|경위|경사|순경|상병|일병|병장|이병|하사|중사)"
    rf"(?={_PARTICLE}(?![{_SYLLABLE}]))"
)
# 김도은 씨, 민태식 판사, 윤도준(경남FC), 라도현(40)씨: a word of a Korean name's shape
# (a common surname and two syllables, or a compound surname and one or two) before a strong
# cue; Kiwi often splits such a name into pieces (김/도/은), so the pattern alone decides.
_NAME_BEFORE_CUE = re.compile(
    rf"{_NB}((?:{'|'.join(sorted(_COMPOUND_SURNAMES))})[{_SYLLABLE}]{{1,2}}"
    rf"|[{''.join(sorted(_SURNAMES))}][{_SYLLABLE}]{{2}})"
    rf"(?:({_AGE})|(\s?\([^()\n]{{1,20}}\))"
    rf"|\s(?:전 |前 )?({_TITLE})(?={_PARTICLE}(?![{_SYLLABLE}])))"
)
_TITLE_PREFIX = re.compile(rf"(?:{_TITLES}|{_KIN})")
_STEM_TAGS = frozenset({"NNP", "NNG", "XR", "MM", "MAG", "IC", "NP", "NR", "XPN", "XSN"})
_AFFIX_TAGS = frozenset({"XPN", "XSN", "IC", "NP", "NR"})
# What Kiwi is not given: anything but syllables, ASCII and common punctuation becomes a space.
_UNSAFE = re.compile(f"[^{_SYLLABLE} -~\u00b7]")
# Cues that follow organisations as often as people: 청와대 측, 기아차 대표.
_WEAK_CUES = frozenset("측 대표 이사 고문 위원 일가".split())
# "이 환자" is "this patient", "이 작가" "this writer": 이 before these is not a surname.
_THIS_BEFORE = frozenset(
    "환자 보호자 선생님 선생 의사 간호사 작가 선수 기자 감독 배우 교사 위원 씨 님".split()
)
# 주니(김주미·22): a stage name, then the legal name and the age in parentheses.
# One-syllable given names of foreign people, written before the family name: 존 베나블.
_SHORT_GIVEN_NAMES = frozenset(
    "존 톰 잭 숀 션 폴 휴 짐 밥 빌 샘 벤 앤 맷 딘 맥 닉 칼 팀 켄 론 롭 멕 킴 짐".split()
)
_NAME_IN_PARENS = re.compile(
    rf"(?<![{_SYLLABLE}])([{_SYLLABLE}]{{2,4}})\s?\(([{_SYLLABLE}]{{2,4}})\s?[·,]\s?[0-9]{{1,3}}(?:세)?\)"
)
# What reviews and news say of a performer right after the name: 원빈의 연기, 최지우 표정연기.
_REVIEW_CUE = re.compile(
    rf"(?:의|가|이)?\s?(?:[{_SYLLABLE}]{{0,3}}연기|주연|출연|열연|목소리|팬|팬들|표정|눈빛|외모|미모)"
    rf"(?![{_SYLLABLE}]*(?:하다|한다|했다|되|된))"
)
# The particles a name is followed by in running text (no verb endings: 이루어진, 지난다).
_NAME_PARTICLE = (
    r"(?:이|가|은|는|을|를|의|에게|에게서|한테|께|께서|와|과|랑|이랑|도|만|로|으로|부터|까지|"
    r"처럼|보다|마저|조차|이나|이며|이고|이다|였다|이었다|이라|이라고|라고|이야|이여|이요|"
    r"님|씨|군|양|측|네|지만|이지만|인데|이자|로서|으로서|였고|이었고|였던|이었던|에서)*"
)
_NAME_WORD = re.compile(
    rf"(?:{'|'.join(sorted(_COMPOUND_SURNAMES))}|[{''.join(sorted(_COMMON_SURNAMES))}])"
    rf"[{_SYLLABLE}]{{1,2}}(?:{_TITLES}|{_KIN})?{_NAME_PARTICLE}"
)
# Everyday words of a name's shape (a surname syllable and one or two more): not analysed.
_EVERYDAY = frozenset(
    """
    이번 이후 이전 이제 이미 이상 이하 이유 이런 이렇게 이게 이건 이것 이곳 이날 이달 이들 이름
    이분 그분 저분
    이야기 이해 이용 이익 이동 이후로 이상한 이어 이었다 이라는 이며 이고 이나 이다 이면 이번엔
    정말 정도 정부 정책 정보 정리 정신 정상 정치 정확 정해 지금 지난 지난해 지역 지원 지적 지난달
    진짜 진행 진심 진실 한번 한편 한국 한다 한데 한다고 한테 한창 한참 하나 하지 하고 하는 하면
    하게 하여 하루 하늘 하며 한마디 고객 고민 고통 고려 고생 고등 고기 고양 공개 공감 공포 공연
    공식 공간 공동 공부 공사 공장 조금 조사 조치 조건 조직 조성 장면 장르 장관 장소 장기 장애 전체
    전국 전혀 전개 전문 전부 전쟁 전화 전달 전략 최고 최근 최악 최초 최신 최대 최소 최종 최선 주말
    주변 주인 주인공 주제 주장 주민 주요 주의 주목 문제 문화 문의 마음 마지막 마무리 마을 마치 마침
    방송 방법 방향 방문 방식 배우 배경 백성 서로 서비스 선물 선수 선택 설명 설정 성공 성격 성장
    성적 손님 손해 송년 신문 신발 심리 심각 안녕 안전 안에 양국 여름 여자 여성 여러 여기 여행 연기
    연출 연구 연결 연말 오늘 오후 오전 오랜만 오히려 우리 우정 우선 원작 원래 원인 유명 유치 유지
    유일 윤리 은행 인간 인기 인생 임신 민주 민족 민간 남자 남편 노래 노력 도시 도움 도전 도입 소리
    소재 소개 소식 수사 시간 시작 시장 신고 차이 차량 채널 천국 추억 추가 현실 현장 현재 홍보 화면
    황금 부모 가족 가수 감독 감동 강조 강화 개봉 결말 경찰 경기 경우 경제 구조 구성 국가 국내 권력
    기대 기억 나라 나중 나도 나는 나의 남북 명작 모습 문재 반전 변화 위해 위한 위원 표정 표현 명령
    """.split()
)
_PARTICLE_END = re.compile(_PARTICLE)
# A name and a kinship word or honorific glued, then particles: 박도겸쌤이, 지혜누나가.
_GLUED_CUE = re.compile(rf"([\uac00-\ud7a3]{{2,4}}?)({_KIN}|씨|님)(?:{_PARTICLE})")
# The particles (and an honorific) that an unknown word swallowed: 박소연의, 오광록씨.
_OOV_TAIL = re.compile(r"(씨|님|군|양)?(?:의|가|는|은|을|를|이|와|과|도|만|에게|이랑|랑|한테)?$")
_CUE_AFTER = re.compile(
    rf"\s?(?:{_AGE}\s?)?(?:전 |前 )?({_TITLE}|{_KIN})(?={_PARTICLE}(?![{_SYLLABLE}]))"
)

# ---------------------------------------------------------------- Kiwi, once per process

_lock = threading.Lock()
_kiwi: Any = None
# From Kiwi's WikiData dictionary: a word of a person's name -> whether it is one mostly; and
# the full names ("숀 코넬리") whose first word is too short to be looked up alone.
_person_words: dict[str, bool] = {}
_full_names: frozenset[str] = frozenset()
_full_firsts: frozenset[str] = frozenset()  # their first words
_other_words: frozenset[str] = frozenset()
# How many WikiData entries of humans, and of anything else, a word is part of.
_human_n: dict[str, int] = {}
_other_n: dict[str, int] = {}
_CACHE_SIZE = 1 << 16


class _Morph(NamedTuple):
    start: int  # offset in the analysed run
    end: int
    tag: str
    oov: bool


def _load() -> Any:
    """Kiwi, built on first use under a lock, single-threaded, warmed up; nothing is downloaded."""
    global _kiwi, _person_words, _full_names, _full_firsts, _other_words, _human_n, _other_n
    if _kiwi is not None:
        return _kiwi
    with _lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            with warnings.catch_warnings():
                # num_workers=0 is "one thread, the caller's" since 0.21; Kiwi still warns that
                # the meaning of 0 changed, which is the meaning we want.
                warnings.simplefilter("ignore", DeprecationWarning)
                kiwi = Kiwi(num_workers=0, load_typo_dict=False)
            kiwi.tokenize("보호자 김영희 씨가 왔다.")  # warm-up: Kiwi finishes loading lazily
            _person_words, _full_names, _other_words, _human_n, _other_n = _wikidata_people()
            _full_firsts = frozenset(name.split(" ", 1)[0] for name in _full_names)
            _kiwi = kiwi
    return _kiwi


def _wikidata_people() -> tuple[
    dict[str, bool], frozenset[str], frozenset[str], dict[str, int], dict[str, int]
]:
    """Words of the names that Kiwi's dictionary marks as humans (WikiData Q5), and full names.

    kiwipiepy-model ships ``multi.dict`` (Apache-2.0, built from WikiData, CC0); it is read where
    the package is installed, nothing is copied. "도널드 트럼프" gives the words 도널드 and
    트럼프, the joined 도널드트럼프 (reviews drop the space: 짐캐리) and the full name. A word is
    a name "mostly" (True: 트럼프, 스즈키) when it is rarely part of other entries; else (파리,
    런던, 그린) it needs a cue. Joined names are always names. The third value are the words of
    other entries (places, works, organisations) that are seldom a person's.
    """
    human: dict[str, int] = {}
    other: dict[str, int] = {}
    joined: set[str] = set()
    full: set[str] = set()
    try:
        import kiwipiepy_model

        path = Path(kiwipiepy_model.get_model_path()) / "multi.dict"
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("#"):
                    continue
                words = [w for w in line.split("\t", 1)[0].split(" ") if _RUN.fullmatch(w)]
                is_human = line.rstrip().endswith("# Q5")
                counts = human if is_human else other
                for word in words:
                    if len(word) >= 2:
                        counts[word] = counts.get(word, 0) + 1
                if is_human and len(words) >= 2:
                    for pair in ((words[-2], words[-1]), (words[0], words[-1])):
                        joined.add("".join(pair))
                        full.add(" ".join(pair))
    except (ImportError, OSError, AttributeError):
        return {}, frozenset(), frozenset(), {}, {}
    words_ = {w: n >= 3 and n >= 4 * other.get(w, 0) for w, n in human.items()}
    words_.update(dict.fromkeys(joined, True))
    for word in _NOT_PERSONS:
        words_.pop(word, None)
    # Words of places, films, companies ... rarely of people: 인천, 부산, 독일, 네이버.
    others = frozenset(w for w, n in other.items() if n >= 2 and 3 * human.get(w, 0) < n)
    return words_, frozenset(full), others, human, other


_cache: OrderedDict[str, tuple[_Morph, ...]] = OrderedDict()


def _analyse(run: str) -> tuple[_Morph, ...]:
    """Kiwi's morphemes of one run of syllables (cached: everyday words repeat)."""
    with _lock:
        hit = _cache.get(run)
        if hit is not None:
            _cache.move_to_end(run)
            return hit
    kiwi = _load()
    with _lock:
        morphs = tuple(
            _Morph(t.start, t.start + t.len, t.tag, bool(t.oov)) for t in kiwi.tokenize(run)
        )
        _cache[run] = morphs
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return morphs


# ---------------------------------------------------------------- the detector


def detect_names(text: str) -> Iterator[Candidate]:
    """Person names written in Hangul in ``text``: ``(start, end, PhiKind.NAME, 4)``.

    Offsets are ``str`` offsets, ``[start, end)``, in increasing order. Text without a Hangul
    syllable or jamo returns at once, without loading Kiwi.
    """
    if not _HANGUL.search(text):
        return iter(())
    return _detect(text)


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """Bounded slices of ``text``: at line or sentence ends, else at a space, else hard."""
    n = len(text)
    pos = 0
    while pos < n:
        hi = min(n, pos + _SEGMENT)
        if hi < n:
            cut = -1
            for m in _SEGMENT_END.finditer(text, pos + _SEGMENT // 2, hi):
                cut = m.end()
            if cut < 0:
                space = text.rfind(" ", pos + _SEGMENT // 2, hi)
                cut = space + 1 if space > 0 else hi
            hi = cut
        yield pos, hi
        pos = hi


def _detect(text: str) -> Iterator[Candidate]:
    found: list[tuple[int, int, list[tuple[int, int]]]] = []
    names: set[str] = set()
    for lo, hi in _segments(text):
        segment = text[lo:hi]
        if not _RUN.search(segment):
            continue
        _load()  # the screens read the WikiData words: loaded before the first is screened
        spans = _with_han(segment, _segment_names(segment))
        found.append((lo, hi, spans))
        names.update(
            segment[a:b]
            for a, b in spans
            if 2 <= b - a <= 8 and _RUN.fullmatch(segment, a, b) and _repeatable(segment[a:b])
        )
    for lo, hi, spans in found:
        segment = text[lo:hi]
        for start, end in _merge(spans + _repeated(segment, names)):
            yield lo + start, lo + end, PhiKind.NAME, NAME_RANK


def _repeatable(name: str) -> bool:
    """A name found once may be looked for at its other mentions, unless it is also an everyday
    word (시인 이상 is a name; every other 이상 in the text is "more than")."""
    if len(name) >= 3:
        return True
    if _everyday(name) or name in _NOT_PERSONS:
        return False
    pieces = _analyse(name)
    return not (len(pieces) == 1 and pieces[0].tag != "NNP" and not pieces[0].oov)


def _repeated(seg: str, names: set[str]) -> list[tuple[int, int]]:
    """Other mentions of a name found in the text (고원원 ... 역시 고원원이다): a word that is a
    found name and particles. Each word is looked up by its first 2-8 syllables: linear."""
    if not names:
        return []
    out = []
    for m in _RUN.finditer(seg):
        a, b = m.span()
        for n in range(min(b - a, 8), 1, -1):
            if seg[a : a + n] in names and _PARTICLE_END.fullmatch(seg, a + n, b):
                out.append((a, a + n))
                break
    return out


# 후진타오(胡錦濤), 김영희(金英姬·52): the name in Chinese characters after the Hangul one.
_HAN_AFTER = re.compile(r"\s?\(([\u4e00-\u9fff\u3400-\u4dbf]{2,6})(?=[)·,\s])")


def _with_han(seg: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans, and the names in Chinese characters that stand in parentheses after them."""
    extra = []
    for _, end in spans:
        m = _HAN_AFTER.match(seg, end)
        if m:
            extra.append(m.span(1))
    return spans + extra


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping spans joined (a full name found whole and by its words)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _segment_names(seg: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    # 1. bare surnames with a cue, and names with an age: patterns only
    for m in _SURNAME_MO.finditer(seg):
        spans.append(m.span(1))
    for m in _SURNAME_HONORIFIC.finditer(seg):
        word = m.group(1) + m.group(3)
        if m.group(2) or (word not in _NOT_HONORIFIC and m.group(1) in _COMMON_SURNAMES):
            spans.append(m.span(1))
    for m in _SURNAME_TITLE.finditer(seg):
        surname, title = m.group(1), m.group(3)
        if surname in _AMBIGUOUS_BEFORE_TITLE or (
            surname == "이" and (title in _THIS_BEFORE or title not in _TITLE_SET)
        ):
            continue  # 이 환자, 이 병원장: "this patient", "this hospital's director"
        spans.append(m.span(1))
    for m in _JEON_JEON.finditer(seg):
        spans.append(m.span(1))
    for m in _LATIN_PERSON.finditer(seg):
        spans.append(m.span(1))
    for m in _NAME_BEFORE_CUE.finditer(seg):
        if _name_before_cue(m.group(1), m.group(4) or ("age" if m.group(2) else "()")):
            spans.append(m.span(1))
    for m in _NAME_IN_PARENS.finditer(seg):
        spans.extend((m.span(1), m.span(2)))
    for m in _PAREN_NAME.finditer(seg):
        if _paren_name(m.group(1)):
            spans.append(m.span(1))
    for m in _PLAYS.finditer(seg):
        if _part_name(m.group(1), glued=not m.group(2), quoted=m.group(2)[:1] not in ("", " ")):
            spans.append(m.span(1))
    # 2. words that may be names: screened by patterns, analysed by Kiwi
    runs = [(m.start(), m.end()) for m in _RUN.finditer(seg)]
    by_pattern = {start for start, _ in spans}
    for i, (start, end) in enumerate(runs):
        prev = seg[runs[i - 1][0] : runs[i - 1][1]] if i and runs[i - 1][1] >= start - 2 else ""
        # 김모(33)씨, 박씨는: the pattern found the surname; the rest of the word is not a name.
        found = None if start in by_pattern else (
            _judge(seg, start, end, prev) or _full_name_shape(seg[start:end])
        )
        if found and not _plainly_a_word(seg[start : start + found[0]]):
            spans.append((start, start + found[0]))
        if i + 1 < len(runs) and runs[i + 1][0] == end + 1 and seg[end] == " ":
            pair = _full_name(seg, start, end, runs[i + 1][1])
            if pair:
                spans.append(pair)
    # 3. what the rules left alone, weighed by the model (compliance._hangul_model)
    taken = {start for start, _ in spans}
    for i, (start, _end) in enumerate(runs):
        if start not in taken and not any(a <= start < b for a, b in spans):
            length = _hangul_model.name_at(seg, runs, i)
            if length:
                spans.append((start, start + length))
    # A predicate is never a name, whichever reading proposed it: 원하는, 선택된 (a surname
    # syllable, then a verb's suffix and ending).
    return [
        (a, b)
        for a, b in spans + _listed(seg, runs, spans)
        if seg[a:b] not in SAFE_LOANWORDS and not _predicate(seg[a:b])
    ]


# A verb's or an adjective's stem or suffix: 원하는 (원하/XSV+는), 선택된, 깨끗한. An ending alone
# does not make a predicate: Kiwi reads names that end in 인 as a noun and the copula
# (정웅인 = 정웅/NNP + 이/VCP + ㄴ/ETM), and such names are common.
_PREDICATE_TAGS = frozenset({"VV", "VA", "VX", "XSV", "XSA"})


def _predicate(word: str) -> bool:
    return len(word) > 1 and any(m.tag in _PREDICATE_TAGS for m in _analyse(word))


def _plainly_a_word(word: str) -> bool:
    """A word Kiwi reads as common nouns it knows, whole or compounded (선택창, 변수명):
    found without a cue, such a word is language, not a name. Names that Kiwi splits
    (김/도/은) come with a cue and are found by the patterns above."""
    morphs = _analyse(word)
    return bool(morphs) and all(m.tag == "NNG" and not m.oov for m in morphs)


# Between two words of a list: 김무성, 이완구 / 이민기 & 여진구 / 박씨·김씨 / 김씨 및 이씨.
_LIST_GAP = re.compile(r"\s*[,·&/]\s*|\s+및\s+")
# A conjunction glued to the first word: 장혁과 오연서, 톰이랑 제리.
_CONJ = re.compile(r"(?:와|과|랑|이랑|하고)\s+")


def _listed(
    seg: str, runs: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Words listed or coordinated with a found name that read as proper nouns: in 한가인,
    김정훈, 전혜빈의 연기 or 장혁과 오연서의 케미, one name found makes the others names."""
    if len(runs) < 2:
        return []
    starts = {a: b for a, b in spans}
    found = [runs[i][0] in starts for i in range(len(runs))]
    if not any(found):
        return []
    out: list[tuple[int, int]] = []

    def linked(i: int) -> bool:  # runs i and i + 1 are two items of one list
        (a, b), (c, _) = runs[i], runs[i + 1]
        if _LIST_GAP.fullmatch(seg, b, c):
            return True
        name_end = starts.get(a)
        return name_end is not None and _CONJ.fullmatch(seg, name_end, c) is not None

    def visit(j: int) -> None:
        a, b = runs[j]
        length = _listed_name(seg[a : min(b, a + _MAX_RUN)])
        if length:
            found[j] = True
            starts[a] = a + length
            out.append((a, a + length))

    for i in range(len(runs) - 1):  # forward, then backward: a chain spreads both ways
        if not found[i] or found[i + 1]:
            continue
        (_, b), (c, d) = runs[i], runs[i + 1]
        if seg[b:c] == " " and _TITLE_PREFIX.fullmatch(seg, c, d):
            found[i + 1] = True  # 김도현 씨, 서하린: the title goes with the name before it
        elif linked(i):
            visit(i + 1)
    for i in range(len(runs) - 2, -1, -1):
        if found[i + 1] and not found[i] and _LIST_GAP.fullmatch(seg, runs[i][1], runs[i + 1][0]):
            visit(i)
    return out


def _listed_name(run: str) -> int:
    """The length of the proper noun that ``run`` starts with, if it may be a name in a list."""
    if len(run) < 2 or _everyday(run):
        return 0
    morphs = _analyse(run)
    stem_end, _ = _stem_end(run, morphs)
    stem = run[:stem_end]
    if not 2 <= stem_end <= 7 or not _PARTICLE_END.fullmatch(run, stem_end):
        return 0
    if stem in _NOT_PERSONS or stem in _TITLE_SET or stem in _ROLES_BEFORE or stem in _EVERYDAY:
        return 0
    if _ORG_ENDING.search(stem) and not _korean_shape(stem, list(morphs)):
        return 0
    pieces = [m for m in morphs if m.start < stem_end]
    if len(pieces) == 1 and pieces[0].tag != "NNP" and not pieces[0].oov:
        return 0  # a word Kiwi knows: 사과, 배, 정부
    if _korean_shape(stem, pieces) or all(m.tag == "NNP" or m.oov for m in pieces):
        return stem_end if stem not in _other_words else 0
    return 0


# 강모연 팀장(송혜교), 글로리아(샤론스톤): a name alone in parentheses (the actor of a part,
# the real name after a stage name).
_PAREN_NAME = re.compile(r"(?<=[\uac00-\ud7a3])\(([\uac00-\ud7a3]{2,6})\)")


def _paren_name(word: str) -> bool:
    """Whether ``word``, alone in parentheses after a word, is a person's name: of a Korean
    name's shape, or a name WikiData knows as a person's; not a place, party or common word."""
    if (
        word in _NOT_PERSONS
        or word in _EVERYDAY
        or word in _TITLE_SET
        or word in _ROLES_BEFORE
        or word in _other_words
        or _ORG_ENDING.search(word)
    ):
        return False
    pieces = list(_analyse(word))
    if _korean_shape(word, pieces) or _garbled(word, tuple(pieces)):
        return True
    if len(pieces) != 1 or pieces[0].tag != "NNP":
        return False
    return _person_words.get(word, False) or (len(word) == 3 and word[0] in _COMMON_SURNAMES)


def _part_name(word: str, glued: bool, quoted: bool) -> bool:
    """Whether ``word``, before 역 ("the part of"), is a character's name: a proper noun or an
    unknown word, not a place (서울역, 강남역에서), a common noun (지하철 역), a title (여검사역)
    or the start of a word that ends in 역 (무기징역)."""
    if glued and not any(
        m.start == len(word) and m.end == len(word) + 1 for m in _analyse(word + "역")
    ):
        return False
    if any(word.endswith(t) for t in _TITLE_SET if len(t) >= 2) or (
        word in _NOT_PERSONS
        or word in _EVERYDAY
        or word in _TITLE_SET
        or word in _ROLES_BEFORE
        or word in _other_words
        or word[:2] in _NOT_PERSONS
        or word[-1] in "역시군구읍면동리도"
    ):
        return False
    if quoted:
        return True  # '서준' 역을 맡았다: a quoted word whose part is played
    pieces = _analyse(word)
    if len(pieces) == 1:
        return pieces[0].tag == "NNP" or pieces[0].oov
    return bool(_korean_shape(word, list(pieces)))


def _name_before_cue(word: str, cue: str) -> bool:
    """Whether ``word``, before an age, a parenthesis or the title ``cue``, is a name."""
    if word in _EVERYDAY or word in _NOT_PERSONS or word in _TITLE_SET or word in _ROLES_BEFORE:
        return False
    strong = cue in ("씨", "님", "군", "양", "age")
    if not strong and (word[-1] in _NOT_NAME_ENDINGS or cue in _WEAK_CUES):
        return False
    if word[:2] in _EVERYDAY or any(c in _LOAN_SYLLABLES for c in word[1:]):
        return False
    morphs = _analyse(word)
    # A common noun or a verb that Kiwi knows whole (공무원, 연구원) is not a name.
    first = morphs[0] if morphs else None
    if first is None or (first.end == len(word) and first.tag != "NNP" and not first.oov):
        return False
    if word[0] not in _COMMON_SURNAMES and word[:2] not in _COMPOUND_SURNAMES and not strong:
        # 기상윤(수원FC): a rare surname needs Kiwi to read the whole word as a proper noun.
        return first.tag == "NNP" and first.end == len(word)
    return not (first.tag.startswith("V") or first.tag in ("NNB", "MAG", "MAJ"))


def _full_name(seg: str, start: int, end: int, next_end: int) -> tuple[int, int] | None:
    """숀 코넬리, 존 베나블: two words that are a WikiData person's name (particles after)."""
    if not _full_names or end - start > 8:
        return None
    first = seg[start:end]
    if first in _NOT_PERSONS:
        return None
    if first in _SHORT_GIVEN_NAMES or (
        _person_words.get(first, False)
        and not any(m.tag == "NNG" and not m.oov for m in _analyse(first))
    ):
        # 존 베나블, 니콜 키드먼: a given name, then a word Kiwi reads as a proper noun.
        family = _analyse(seg[end + 1 : min(next_end, end + 1 + _MAX_RUN)])
        if family and (family[0].tag == "NNP" or family[0].oov) and family[0].end >= 2:
            return start, end + 1 + family[0].end
    if first not in _full_firsts:
        return None
    for n in range(min(next_end - end - 1, 8), 1, -1):
        second = seg[end + 1 : end + 1 + n]
        if f"{first} {second}" in _full_names:
            # Not two common nouns that happen to be a name somewhere (사망 사건).
            if any(m.tag == "NNP" or m.oov for m in (*_analyse(first), *_analyse(second))):
                return start, end + 1 + n
            return None
    return None


def _cue_after(seg: str, end: int) -> str | None:
    """The person cue right after ``end`` (씨, 교수, 대통령, an age ...), if any."""
    m = _CUE_AFTER.match(seg, end, min(len(seg), end + 16))
    if m:
        return m.group(1) or "age"
    if _AGE_AFTER.match(seg, end):
        return "age"
    return "review" if _REVIEW_CUE.match(seg, end, min(len(seg), end + 12)) else None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _screen(run: str) -> tuple[bool, bool]:
    """Whether the run has the shape of a name word (a surname, one or two syllables, then only
    titles and particles), and whether it is worth analysing whatever stands around it (that,
    or an honorific inside it, or it starts with a word of a person's name). Cached: words
    repeat, and this is the cost paid for every word of the text."""
    surname_start = _NAME_WORD.fullmatch(run) is not None and not _everyday(run)
    honorific = _HONORIFIC_AFTER.search(run, 1) is not None
    return surname_start, surname_start or honorific or _known_prefix(run)


def _judge(seg: str, start: int, end: int, prev: str) -> tuple[int, str] | None:
    """(length, reason) of the name that the run ``seg[start:end]`` starts with, if any."""
    run = seg[start : min(end, start + _MAX_RUN)]
    role_before = prev in _ROLES_BEFORE
    surname_start, screened = _screen(run)
    after = _cue_after(seg, end)
    if not (screened or role_before or after):
        return _unscreened(run)
    if len(run) == 1:
        return None  # a bare surname is found by the cue patterns above
    morphs = _analyse(run)
    if surname_start and _garbled(run, morphs):
        return 3, "garbled"
    stem_end, inside = _stem_end(run, morphs)
    if stem_end < 2:
        # Kiwi read it as a verb or an ending (지나, 주니); an age right after says person.
        if after == "age" and 2 <= len(run) <= 4 and run not in _NOT_PERSONS:
            return len(run), "age"
        return None
    stem = run[:stem_end]
    if stem in _TITLE_SET or stem in _ROLES_BEFORE:
        return None
    if any(m.start == stem_end and m.tag in ("XSV", "XSA") for m in morphs):
        return None  # a verbal noun before 하다/되다 (라우팅한다, 선택된): not a name
    pieces = [m for m in morphs if m.start < stem_end]
    cue = after if stem_end == len(run) else inside
    strong_cue = cue in ("씨", "님", "군", "양", "age")
    if stem in _NOT_PERSONS and not strong_cue:
        return None
    if cue in _NAME_ONLY_CUES and len(stem) <= 4 and (role_before or not _everyday(stem)):
        # 씨 follows nothing but a person: 강인 씨, 섬나 씨, 태연 씨 (given names, stage names).
        return stem_end, "honorific"
    proper = any(m.tag == "NNP" or (m.oov and m.tag.startswith("NN")) for m in pieces)
    shape = _korean_shape(stem, pieces)
    if len(stem) >= 3 and stem[-1] in _PLACE_ENDINGS and not (strong_cue or _named_so(stem, shape)):
        return None  # 강남구, 경기도; not 여진구
    if stem in _other_words and not cue and not (shape == "nnp" and len(stem) >= 3):
        return None  # 인천, 부산, 독일: words of places and organisations in WikiData
    if cue == "review" and stem_end < len(run) and not _REVIEW_CUE.match(run, stem_end):
        cue = None
    if cue and (shape or (proper and cue not in _WEAK_CUES)):
        return stem_end, "cue"
    if (
        role_before
        and len(stem) == 3
        and stem[-1] == "인"
        and stem[0] in _COMMON_SURNAMES
        and not (stem[:2] in _EVERYDAY or stem[:2] in _NOT_PERSONS or stem in _other_n)
    ):
        return stem_end, "role"  # 환자 한정인의: Kiwi reads 인 as a suffix (한정/인), after a role
    if (
        role_before
        and (proper or shape)
        and len(stem) <= 5
        and (pieces[0].tag != "NNG" or pieces[0].oov)
    ):
        return stem_end, "role"
    if (
        shape == "nnp"
        and stem[-1] == "동"
        and prev
        and (prev in _NOT_PERSONS or prev[-1] in "시군구읍면")
    ):
        return None  # 북구 구포동: a neighbourhood
    if shape and (shape != "split" or stem[-1] not in _CUE_ENDINGS):
        # A short or unknown word alone is weak: Kiwi must read it so in its sentence, too.
        common = stem[0] in _COMMON_SURNAMES or stem[:2] in _COMPOUND_SURNAMES
        if (len(stem) >= 3 and shape == "nnp" and common) or _in_context(seg, start, stem_end):
            return stem_end, "shape-" + shape
        return None
    if proper and _person_words.get(stem, False) and (len(stem) >= 3 or stem[0] in _SURNAMES):
        return stem_end, "wikidata"
    return _proper_noun(run, stem, stem_end, morphs, pieces)


# What Kiwi makes of a Korean name it does not know: 김/상/중 (NNP NNG NNB), 윤/채/영 (NNP NNB
# NR), 정재/영 (NNG NR), 이/준혁 (MM NNP), 주진/진/모 (NNG JX NNG).
_GARBLE_TAGS = frozenset({"NNP", "NNG", "NNB", "NR", "MM", "XR", "JX", "MAG", "IC"})
_NONSENSE_TAGS = frozenset({"NNB", "NR", "MM", "JX", "MAG", "IC"})
_NAME_PARTICLE_END = re.compile(_NAME_PARTICLE)


def _garbled(run: str, morphs: tuple[_Morph, ...]) -> bool:
    """A common surname and two syllables, then particles, that Kiwi cuts into pieces of no
    meaning (김상중이, 윤채영은, 정재영이): an unknown name. A compound Kiwi reads as two
    nouns (신/기록) or a noun and a suffix (정치/인) is not one."""
    if len(run) < 3 or run[0] not in _COMMON_SURNAMES or not _NAME_PARTICLE_END.fullmatch(run, 3):
        return False
    stem = run[:3]
    if (
        stem in _NOT_PERSONS
        or stem in _EVERYDAY
        or run[:2] in _EVERYDAY
        or stem[-1] in _NOT_NAME_ENDINGS
        or any(c in _LOAN_SYLLABLES for c in stem[1:])
    ):
        return False
    pieces = [m for m in morphs if m.start < 3]
    if len(pieces) < 2 or pieces[-1].end != 3 or any(m.tag not in _GARBLE_TAGS for m in pieces):
        return False
    if pieces[-1].tag == "JX" or (pieces[0].tag == "MM" and pieces[1].tag != "NNP"):
        return False  # 현상/은, 이/영화 ("this film"), 한/차례
    return (
        any(m.tag in _NONSENSE_TAGS for m in pieces)
        or pieces[0].tag == "NNP"
        or all(m.end - m.start == 1 for m in pieces)
    )


def _full_name_shape(run: str) -> tuple[int, str] | None:
    """A common surname and two syllables, alone or before particles, that Kiwi knows as no
    word and WikiData as nothing but a person (오혜상은, 박기형, 전현뮤가, 장위안은): the most
    frequent shape of a Korean full name, cue or not. What Kiwi reads as a known noun, a
    compound of known nouns or a predicate (정부가, 고양이, 이번주, 원하는), or whose first
    two syllables are an everyday word, a place or an organisation, is language."""
    if len(run) < 3 or run[0] not in _COMMON_SURNAMES or not _NAME_PARTICLE_END.fullmatch(run, 3):
        return None
    stem = run[:3]
    if (
        stem in _EVERYDAY
        or stem[:2] in _EVERYDAY
        or stem in _NOT_PERSONS
        or stem[:2] in _NOT_PERSONS
        or stem in _other_n
        or stem[:2] in _other_words
        or any(c in _LOAN_SYLLABLES for c in stem[1:])
        or _everyday(run)
    ):
        return None
    if len(run) > 3 and (not any(m.end == 3 for m in _analyse(run)) or _predicate(run)):
        return None  # Kiwi reads the word another way: 오토바이를, 조업하는
    pieces = _analyse(stem)
    if pieces[0].end == 3 and (pieces[0].oov or pieces[0].tag == "NNP"):
        return 3, "shape-full"  # one unknown noun or one proper noun: 오혜상, 장위안
    # Or pieces of no meaning (이/헤/숙의): no known word of two syllables or more in it.
    if all(m.end - m.start == 1 and m.tag in _GARBLE_TAGS for m in pieces):
        return 3, "shape-full"
    return None


def _named_so(stem: str, shape: str) -> bool:
    """A name ending like a place (여진구, 김경도, not 강남구, 경기도): Kiwi reads the word as
    one name of a Korean shape, its first two syllables are not a place and WikiData knows it
    as nothing else."""
    return (
        shape in ("nnp", "oov")
        and len(stem) == 3
        and stem[:2] not in _NOT_PERSONS
        and stem[:2] not in _other_words
        and stem not in _other_n
    )


def _unscreened(run: str) -> tuple[int, str] | None:
    """A word that the cheap screens did not flag: a name glued to more than particles, or a
    foreign-looking proper noun (한석규에, 송강호싫음, 케이틀린이, 로빈슨의)."""
    if len(run) < 2:
        return None
    korean = len(run) >= 3 and run[0] in _COMMON_SURNAMES and not _everyday(run)
    if not korean:
        return None
    morphs = _analyse(run)
    first = morphs[0]
    if (
        korean
        and first.tag == "NNP"
        and first.start == 0
        and first.end == 3
        and run[:3] not in _NOT_PERSONS
        and _korean_shape(run[:3], [first]) in ("nnp", "oov")
    ):
        return 3, "glued"
    stem_end, _ = _stem_end(run, morphs)
    if stem_end < 2:
        return None
    pieces = [m for m in morphs if m.start < stem_end]
    found = _proper_noun(run, run[:stem_end], stem_end, morphs, pieces)
    return found if found and found[1] == "nnp-particle" else None


def _proper_noun(
    run: str, stem: str, stem_end: int, morphs: tuple[_Morph, ...], pieces: list[_Morph]
) -> tuple[int, str] | None:
    """A proper noun that WikiData knows mostly as a person's, or a foreign one before a particle.

    In news and reviews a transliterated proper noun followed by a subject, object, topic or
    genitive particle (로빈슨의, 마르셀로가) is a person more often than not, once the words that
    end like places and organisations (…은행, …전자, …시티, …스) are set aside.
    """
    if len(pieces) != 1 or len(stem) < 2:
        return None
    if pieces[0].tag != "NNP":
        return _foreign_name(run, stem, stem_end, morphs, pieces[0])
    if stem in _NOT_PERSONS or _ORG_ENDING.search(stem):
        return None
    h, o = _human_n.get(stem, 0), _other_n.get(stem, 0)
    if h and h >= o:
        return stem_end, "nnp-wd"
    nxt = next((m for m in morphs if m.start >= stem_end), None)
    if (
        not h
        and not o
        and nxt is not None
        and nxt.tag in _PERSON_PARTICLES
        and any(c in _LOAN_SYLLABLES for c in stem)
        and not _DRUG_ENDING.search(stem)
        and stem not in SAFE_LOANWORDS
        and stem[-1] not in _LOANWORD_ENDINGS
    ):
        return stem_end, "nnp-particle"
    return None


def _foreign_name(
    run: str, stem: str, stem_end: int, morphs: tuple[_Morph, ...], only: _Morph
) -> tuple[int, str] | None:
    """A transliterated word Kiwi does not know, before a subject, object, topic or genitive
    particle (웜비어는, 크로넨버그가, 몬테스의): a foreign person's name, unless WikiData knows the
    word, it ends like an organisation, a place or a medicine, or it is a word of software."""
    if not (only.oov and only.tag.startswith("NN")) or len(stem) < 3 or stem in _other_n:
        return None
    nxt = next((m for m in morphs if m.start >= stem_end), None)
    if nxt is None or nxt.tag not in _PERSON_PARTICLES:
        return None
    if _ORG_ENDING.search(stem) or _DRUG_ENDING.search(stem) or stem in SAFE_LOANWORDS:
        return None
    if sum(c in _LOAN_SYLLABLES for c in stem) < 1 or stem[0] in _COMMON_SURNAMES:
        return None
    if stem[-1] in _LOANWORD_ENDINGS:
        return None  # English -ing, -tion, -ge: 파티셔닝, 트리아지, 패키지
    return stem_end, "oov-particle"


def _in_context(seg: str, start: int, length: int) -> bool:
    """Kiwi, given the words around, still reads ``seg[start:start+length]`` as a name."""
    lo = seg.rfind(" ", max(0, start - 12), max(0, start - 1))
    lo = lo + 1 if lo >= 0 else max(0, start - 12)
    hi = seg.find(" ", start + length + 1, min(len(seg), start + length + 16))
    hi = hi if hi >= 0 else min(len(seg), start + length + 16)
    window = _UNSAFE.sub(" ", seg[lo:hi])
    offset = start - lo
    for m in _analyse(window):
        if m.start == offset:
            return (
                m.tag == "NNP"
                or (m.oov and m.tag.startswith("NN"))
                or (m.tag in ("NNG", "XR") and m.end - m.start < length)
            )
        if m.start < offset < m.end:
            return False
    return False


def _everyday(run: str) -> bool:
    """The run is an everyday word with particles (정부가, 이번에는), not worth analysing."""
    for n in (2, 3):
        if run[:n] in _EVERYDAY and _PARTICLE_END.fullmatch(run, n):
            return True
    return run in _EVERYDAY


def _known_prefix(run: str) -> bool:
    """The run starts with a word of a person's name from the WikiData dictionary."""
    return any(run[:n] in _person_words for n in range(2, min(len(run), 8) + 1))


def _stem_end(run: str, morphs: tuple[_Morph, ...]) -> tuple[int, str | None]:
    """Where the leading nouns of the run end (the name candidate), and the cue inside the run.

    "배창호감독의" is 배창호 before 감독, "김영희씨의" 김영희 before 씨: the title ends the stem
    and is the cue. An unknown word swallows its particles ("박소연의" is one OOV token): they
    are cut off here.
    """
    tail = _GLUED_CUE.fullmatch(run)
    if tail and any(m.start == tail.end(1) for m in morphs):
        # 박도/겸/쌤: the name ends where the cue starts, whatever Kiwi made of it
        cut = tail.end(1)
        if all(m.tag in _GARBLE_TAGS or m.oov for m in morphs if m.start < cut):
            return cut, tail.group(2)
    end = 0
    for m in morphs:
        if end >= 2:
            title = _TITLE_PREFIX.match(run, m.start)
            if title and _PARTICLE_END.fullmatch(run, title.end()):
                return end, title.group()
        if m.tag == "XSN" and run[m.start : m.end] in ("이", "들"):
            break  # 민국이는, 학생들: a suffix, not part of the name
        if m.tag in _STEM_TAGS or m.oov:
            end = m.end
        else:
            break
    last = next((m for m in morphs if m.end == end), None)
    if last is not None and last.oov and end - last.start >= 3:
        word = run[last.start : end]
        inner = _OOV_TAIL.search(word)
        if inner and inner.start() >= 2 and not word.endswith("앤씨"):  # 이앤씨 is E&C
            cue = inner.group(1)
            return last.start + inner.start(), cue
    return end, None


def _korean_shape(stem: str, pieces: list[_Morph]) -> str:
    """Whether ``stem`` has the shape of a Korean name, and how Kiwi read it.

    "nnp", "oov" or "split" if it is a surname and one or two syllables that Kiwi reads as one
    proper noun, one unknown noun, or an unknown name split into pieces; "" if not.
    """
    if stem[:2] in _COMPOUND_SURNAMES:
        given = stem[2:]
    elif stem[0] in _COMMON_SURNAMES:
        given = stem[1:]
    elif stem[0] in _SURNAMES and len(pieces) == 1 and pieces[0].tag == "NNP":
        given = stem[1:]  # 견자단, and given names alone: 동현, 상우, 태민
    else:
        return ""
    if not 1 <= len(given) <= 2 or any(c in _LOAN_SYLLABLES for c in given):
        return ""
    if len(pieces) == 1:
        only = pieces[0]
        if only.tag == "NNP" and only.end - only.start == len(stem):
            return "" if stem[-1] in _NNP_NOT_NAME_ENDINGS else "nnp"
        # An unknown noun: a name if it ends like one (not 감상평, 상황극, 하락폭).
        ok = only.oov and len(stem) == 3 and stem[-1] not in _NOT_NAME_ENDINGS
        return "oov" if ok else ""
    # Kiwi split an unknown name: 변/희/봉, 이종/림 (not 이/영화, 가능/성, 신/기록).
    if len(stem) != 3 or stem[-1] in _NOT_NAME_ENDINGS:
        return ""
    short = all(m.end - m.start == 1 for m in pieces)  # 이/은/우, 김/청/용
    if not short and (
        pieces[0].tag not in ("NNP", "NNG", "XR") or any(m.tag in _AFFIX_TAGS for m in pieces)
    ):
        return ""
    return "split" if all(m.end - m.start <= 2 for m in pieces) else ""
