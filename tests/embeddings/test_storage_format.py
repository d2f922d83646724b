"""Storage format → text, on the real fixture pages and on small hand-written cases."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest

from embeddings import storage_format
from embeddings.storage_format import Section, clean_text, parse_storage, storage_to_text

from .confluence_server import load_fixture_pages

PAGES = {page.page_id: page for page in load_fixture_pages()}
# A tag of the markup that must never reach the text (code may hold <user-specified-path>).
MARKUP = re.compile(
    r"</?(?:ac|ri):|<!\[CDATA|</?(?:p|div|span|table|tr|td|th|ul|ol|li|h[1-6]|strong|em|code|br|"
    r"img|a|col|colgroup|tbody|u)\b[^>]*>|&(?:[a-z]+|#\d+|#x[0-9a-f]+);",
    re.I,
)


def sections_of(page_id: str) -> list[Section]:
    return parse_storage(PAGES[page_id].storage)


def text_of(page_id: str) -> str:
    return "\n".join(section.text for section in sections_of(page_id))


def lines_of(page_id: str) -> list[str]:
    return text_of(page_id).split("\n")


def raw_headings(xhtml: str) -> list[str]:
    """The h1–h6 texts of the raw markup, read with a plain regex (a second opinion)."""
    found = re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", xhtml)
    return [clean_text(re.sub(r"<[^>]+>", " ", h)) for h in found]


# --- on the real pages -------------------------------------------------------------------------


@pytest.mark.parametrize("page_id", sorted(PAGES))
def test_no_markup_or_entities_leak_into_text(page_id: str) -> None:
    for section in sections_of(page_id):
        for text in (section.text, *section.heading_path):
            assert not MARKUP.search(text), MARKUP.search(text)
            assert "\u200b" not in text and "\xa0" not in text
            assert text == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("page_id", sorted(PAGES))
def test_headings_become_section_boundaries(page_id: str) -> None:
    headings = [h for h in raw_headings(PAGES[page_id].storage) if h]
    sections = sections_of(page_id)

    # Every section's own heading is one of the page's headings, in page order.
    own = [s.heading_path[-1] for s in sections if s.heading_path]
    assert own == [h for h in headings if h in own]
    assert len(sections) >= 2


def test_heading_paths_nest_by_level() -> None:
    paths = [s.heading_path for s in sections_of("544112828")]

    assert ("Overview",) in paths  # an h2 inside an ac:layout-cell: layouts are flattened
    assert ("에이전트를 통한 서버 접속", "1. 서버 역할 선택하기") in paths
    assert ("에이전트를 통한 서버 접속", "2. Agent로 서버 접속하기") in paths  # <br/> in the h3
    assert ("에이전트를 통한 쿠버네티스 접속", "1. Kubernetes 역할 선택하기") in paths


def test_korean_text_survives_byte_for_byte() -> None:
    raw = PAGES["544178405"].storage
    sentence = re.search(r"<p>(QueryPie의 관리자는 [^<]+?상이합니다\.)</p>", raw)
    assert sentence is not None
    expected = sentence.group(1).encode("utf-8")

    text = text_of("544178405").encode("utf-8")

    assert expected in text
    assert "QueryPie 관리자 설정이 처음이신가요?" in [
        s.heading_path[-1] for s in sections_of("544178405")
    ]


def test_code_macro_bodies_survive_verbatim() -> None:
    raw = PAGES["544112828"].storage
    blocks = re.findall(
        r'<ac:structured-macro ac:name="code".*?<!\[CDATA\[(.*?)\]\]>', raw, flags=re.S
    )
    assert len(blocks) >= 3
    text = text_of("544112828")

    for code in blocks:
        assert code.strip("\n") in text  # indentation and line breaks intact
    assert "Host {{Server Name}}\n  Hostname {{Server URL}}" in text
    assert 'export KUBECONFIG="${KUBECONFIG}:<user-specified-path>"' in text


def test_page_links_resolve_to_their_titles() -> None:
    lines = lines_of("544178405")

    # <ac:link><ri:page ri:content-title="General​"/><ac:link-body>General</…>, in a table cell.
    assert "1 | 기본 정보 설정하기 | General; 회사 이름, 타임존, 날짜 표기 방식 등" in lines
    assert any("LDAP 연동하기; Okta 연동하기; AWS SSO 연동하기" in line for line in lines)


def test_tables_become_rows_of_cells() -> None:
    lines = lines_of("544178405")

    assert "설정 순서 | 설정 항목" in lines
    rows = [line for line in lines if line.count(" | ") == 2]
    assert len(rows) == 11  # 7 + 4 numbered rows in the page's two tables


def test_lists_become_item_lines_and_nest() -> None:
    lines = lines_of("1454342158")

    assert "- LDAP" in lines and "- Okta" in lines
    manual = "수동으로만 동기화를 수행합니다. 현재 페이지에서 Synchronize 버튼을 클릭할 때에만"
    assert any(line.startswith(f"  - Manual : {manual}") for line in lines)


def test_panels_are_labelled_and_toc_is_dropped() -> None:
    text = text_of("1454342158")

    assert "Info: - 현재 여러개의 Identity Provider를 동시에 지원하지 않습니다." in text
    # An ADF panel (ac:adf-extension) of type note; its HTML fallback is not repeated.
    note = (
        "Note: Active Directory를 LDAP 연동할 경우 Anonymous 항목을 반드시 false로 설정해야합니다."
    )
    assert text.count(note) == 1
    assert "maxLevel" not in text and "93991f90" not in text


def test_entities_are_decoded() -> None:
    text = text_of("1454342158")

    assert "Okta → QueryPie로의 단방향 동기화를 지원합니다." in text  # &rarr;
    assert "user.firstName ↔\ufe0e firstName" in text  # &harr; and its variation selector


def test_images_become_captions_and_file_names_are_dropped() -> None:
    text = text_of("544178405")

    assert "GNB 내 관리자 페이지 진입점" in text
    assert ".png" not in text and "스크린샷" not in text


def test_storage_to_text_keeps_headings_in_order() -> None:
    text = storage_to_text(PAGES["544178405"].storage)

    assert text.index("환영합니다.") < text.index("QueryPie의 관리자는") < text.index("설정 순서")


# --- small cases -------------------------------------------------------------------------------


def render(xhtml: str) -> str:
    return "\n".join(section.text for section in parse_storage(xhtml))


def test_a_link_without_body_shows_the_page_title() -> None:
    xhtml = (
        '<p>See <ac:link><ri:page ri:content-title="Security&nbsp;Policy\u200b" /></ac:link>.</p>'
    )

    assert render(xhtml) == "See Security Policy."


@pytest.mark.parametrize(
    ("xhtml", "expected"),
    [
        (
            '<ac:link><ri:attachment ri:filename="plan.pdf" /></ac:link>',
            "plan.pdf",
        ),
        (
            '<ac:link><ri:page ri:content-title="Roles" /><ac:plain-text-link-body>'
            "<![CDATA[the roles page]]></ac:plain-text-link-body></ac:link>",
            "the roles page",
        ),
        ('<p><a href="https://x.example">the site</a></p>', "the site"),
    ],
)
def test_link_variants(xhtml: str, expected: str) -> None:
    assert render(xhtml) == expected


def test_status_macro_shows_its_title() -> None:
    xhtml = (
        '<p>State: <ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">Green'
        '</ac:parameter><ac:parameter ac:name="title">DONE</ac:parameter>'
        "</ac:structured-macro> since May</p>"
    )

    assert render(xhtml) == "State: DONE since May"


@pytest.mark.parametrize(
    ("name", "label"), [("info", "Info"), ("note", "Note"), ("warning", "Warning"), ("tip", "Tip")]
)
def test_panel_macros_are_prefixed(name: str, label: str) -> None:
    xhtml = (
        f'<ac:structured-macro ac:name="{name}"><ac:rich-text-body><p>Back up first.</p>'
        "<p>Then upgrade.</p></ac:rich-text-body></ac:structured-macro>"
    )

    assert render(xhtml) == f"{label}: Back up first.\nThen upgrade."


def test_panel_title_is_kept() -> None:
    xhtml = (
        '<ac:structured-macro ac:name="panel"><ac:parameter ac:name="title">Escalation'
        "</ac:parameter><ac:rich-text-body><p>Call the lead.</p></ac:rich-text-body>"
        "</ac:structured-macro>"
    )

    assert render(xhtml) == "Panel: Escalation\nCall the lead."


def test_code_with_markup_like_content_and_cdata_end() -> None:
    code = 'if a < b && c > d:\n    print("<p>&amp;</p>")'
    xhtml = (
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">python'
        f"</ac:parameter><ac:plain-text-body><![CDATA[{code}]]></ac:plain-text-body>"
        "</ac:structured-macro><p>after</p>"
    )

    assert render(xhtml) == code + "\nafter"


def test_layouts_headings_and_toc() -> None:
    xhtml = (
        '<ac:structured-macro ac:name="toc"><ac:parameter ac:name="maxLevel">2</ac:parameter>'
        "</ac:structured-macro><p>intro</p><ac:layout><ac:layout-section><ac:layout-cell>"
        "<h1>A</h1><p>a1</p><h2>B</h2><p>b1</p></ac:layout-cell><ac:layout-cell><h2>C</h2>"
        "<p>c1</p></ac:layout-cell></ac:layout-section></ac:layout><h1>D</h1><p>d1</p>"
    )

    assert parse_storage(xhtml) == [
        Section((), "intro"),
        Section(("A",), "a1"),
        Section(("A", "B"), "b1"),
        Section(("A", "C"), "c1"),
        Section(("D",), "d1"),
    ]


def test_ordered_lists_tasks_and_breaks() -> None:
    xhtml = (
        "<ol><li>one</li><li>two<ul><li>two.a</li></ul></li></ol>"
        "<ac:task-list><ac:task><ac:task-status>complete</ac:task-status>"
        "<ac:task-body>ship</ac:task-body></ac:task><ac:task><ac:task-status>incomplete"
        "</ac:task-status><ac:task-body>test</ac:task-body></ac:task></ac:task-list>"
        "<p>line one<br/>line   two</p>"
    )

    assert render(xhtml) == (
        "1. one\n2. two\n  - two.a\n- [x] ship\n- [ ] test\nline one\nline two"
    )


def test_unicode_is_cleaned() -> None:
    decomposed = unicodedata.normalize("NFD", "한국어 문서")
    xhtml = f"<p>{decomposed}\u200b\ufeff&nbsp;&nbsp; 끝\u0007</p>"

    text = render(xhtml)

    assert text == "한국어 문서 끝"
    assert text.encode() == "한국어 문서 끝".encode()


@pytest.mark.parametrize(
    "xhtml",
    [
        "<p>unclosed <strong>bold <em>both</p><p>next",
        "</div></p>stray closers<p>ok</p></table>",
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[never closed',
        "<<<>>> &bogus; &#xZZ; <p a=>x</p> <!-- comment --> <!DOCTYPE html>",
        "<table><tr><td>cell<tr><td>row two</table>",
        '<ac:link><ri:page ri:content-title="" /></ac:link><ac:image />',
        "<h2></h2><h3><br/></h3>text under empty headings",
    ],
)
def test_malformed_markup_never_raises(xhtml: str, caplog: pytest.LogCaptureFixture) -> None:
    sections = parse_storage(xhtml)

    assert not caplog.records  # handled by the lenient parse, not by the last-resort fallback

    for section in sections:
        assert "<p" not in section.text and "</" not in section.text


def test_malformed_markup_keeps_its_text() -> None:
    assert "never closed" in render(
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[never closed'
    )
    assert render("<table><tr><td>cell<tr><td>row two</table>") == "cell\nrow two"


@pytest.mark.parametrize("page_id", sorted(PAGES))
def test_truncated_pages_never_raise(page_id: str, caplog: pytest.LogCaptureFixture) -> None:
    raw = PAGES[page_id].storage
    for cut in range(1, len(raw), max(1, len(raw) // 41)):
        parse_storage(raw[:cut])
        parse_storage(raw[cut:])

    assert not caplog.records


def test_a_rendering_failure_falls_back_to_stripped_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> list[str]:
        raise RecursionError("too deep")

    monkeypatch.setattr(storage_format, "_flow", broken)

    sections = parse_storage("<h1>T</h1><p>a&nbsp;&rarr; b</p><![CDATA[x < y]]>")

    assert sections == [Section((), "T a → b x < y")]
    assert "falling back" in caplog.text


@pytest.mark.parametrize("xhtml", [None, "", "   ", "<p> </p>", "<ac:structured-macro/>"])
def test_empty_input_gives_no_sections(xhtml: str | None) -> None:
    assert parse_storage(xhtml) == []


@pytest.mark.parametrize(
    "xhtml",
    [
        "<a " * 100_000,  # html.parser alone: minutes (rescans the rest for every "<")
        "</" * 100_000,
        "<!--" * 20_000,
        "<![x" * 20_000,  # html.parser alone: AssertionError
        "<div>" * 20_000 + "deep",  # rendering alone: RecursionError
    ],
)
def test_hostile_markup_is_handled_in_linear_time(
    xhtml: str, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.perf_counter()

    parse_storage(xhtml)

    assert time.perf_counter() - started < 5  # ~0.1 s here; generous for slow CI
    assert not caplog.records
