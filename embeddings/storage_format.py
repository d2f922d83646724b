"""Confluence storage format (XHTML with ``ac:``/``ri:`` elements) → clean, readable text.

``parse_storage(xhtml)`` returns the page as ``Section``s: top-level headings (h1–h6, also
inside layouts) start a new section whose ``heading_path`` is the chain of enclosing headings.
Inside a section the text keeps the structure a reader needs:

- paragraphs become lines, lists ``- item`` / ``1. item`` lines (nested ones indented),
- tables one line per row, ``cell | cell`` (empty cells skipped),
- code/noformat macros verbatim (CDATA bodies, indentation kept),
- info/note/warning/tip/panel macros (and the ADF panels newer editors write) as ``Note: …``,
- a status macro as its title, a Jira macro as its issue key,
- ``ac:link`` as its link body, else the linked page title, attachment file name or URL,
- images as their caption or descriptive alt text; file-name alts are dropped as noise,
- toc, anchors and other macros without text dropped; layouts flattened.

Text is NFC-normalised, zero-width characters and control characters are removed and runs of
whitespace collapse (code keeps its own whitespace).

Storage format is not XML a plain XML parser accepts: it uses HTML named entities (``&nbsp;``,
``&rarr;``) without a DTD, and real pages are often malformed. So the stdlib ``html.parser``
(which knows all HTML5 entities and never rejects input) builds a small tree with an
end-tag-matching stack; CDATA sections are rewritten to escaped text beforehand because
``html.parser``'s CDATA handling differs between Python patch releases. If anything in
rendering still fails, a tag-stripping fallback returns the text as one section, so a bad page
degrades instead of stopping a reindex.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    """One heading-delimited part of a page.

    ``heading_path`` is empty for text before the first heading. ``text`` never repeats the
    headings themselves; lines are separated by ``\\n``.
    """

    heading_path: tuple[str, ...]
    text: str


# --- text cleaning -------------------------------------------------------------------------

# Zero-width and invisible formatting characters that break matching and tokenisation; the
# soft hyphen is invisible when rendered too. (Real titles carry them: "General\u200b".)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
# Marks a <br> while inline text is gathered; NUL never survives input cleaning.
_BR = "\x00"


def clean_text(text: str) -> str:
    """NFC-normalise, drop invisible and control characters and collapse whitespace."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", _CONTROL.sub("", text)).strip()


def _clean_code(text: str) -> list[str]:
    """Code keeps its indentation and line breaks; only invisible characters go."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).replace("\r\n", "\n")
    lines = [_CONTROL.sub("", line.replace("\t", "    ")).rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


# --- parsing into a small tree -------------------------------------------------------------

_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_TABLE_SCOPE = frozenset({"table", "thead", "tbody", "tfoot"})
_IMPLIED_END = {
    "tr": (frozenset({"tr", "td", "th"}), _TABLE_SCOPE),
    "td": (frozenset({"td", "th"}), _TABLE_SCOPE | {"tr"}),
    "th": (frozenset({"td", "th"}), _TABLE_SCOPE | {"tr"}),
    "li": (frozenset({"li"}), frozenset({"ul", "ol"})),
}
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_CDATA_UNCLOSED = re.compile(r"<!\[CDATA\[(.*)\Z", re.S)
# A "<" with no ">" before the next "<" or the end. Each lookahead stops at the next "<" or
# ">", so a whole pass is linear.
_UNCLOSED_TAG = re.compile(r"<(?=[^<>]*(?:<|\Z))")
# Deeper elements are flattened into their ancestor at this depth: real pages nest far less,
# and rendering recurses once per level (Python's default limit is 1000 frames).
_MAX_DEPTH = 100


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    children: list[_Element | str] = field(default_factory=list)

    def child(self, tag: str) -> _Element | None:
        return next((c for c in self.elements() if c.tag == tag), None)

    def elements(self) -> Iterable[_Element]:
        return (c for c in self.children if isinstance(c, _Element))

    def raw_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.raw_text() for c in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {})
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _IMPLIED_END:  # "<tr><td>a<tr><td>b": HTML's implied end tags
            closes, scope = _IMPLIED_END[tag]
            outermost = None
            for depth in range(len(self._stack) - 1, 0, -1):
                if self._stack[depth].tag in scope:
                    break
                if self._stack[depth].tag in closes:
                    outermost = depth
            if outermost is not None:
                del self._stack[outermost:]
        element = _Element(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(element)
        if tag not in _VOID and len(self._stack) < _MAX_DEPTH:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(_Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the nearest open element of that name; a stray end tag is ignored.
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):  # only reached if pre-processing missed one
            self.handle_data(data[len("CDATA[") :])


def _escape_cdata(xhtml: str) -> str:
    def escaped(match: re.Match[str]) -> str:
        return html.escape(match.group(1), quote=False)

    return _CDATA_UNCLOSED.sub(escaped, _CDATA.sub(escaped, xhtml))


def _strip_comments(xhtml: str) -> str:
    parts = []
    position = 0
    while (start := xhtml.find("<!--", position)) != -1:
        parts.append(xhtml[position:start])
        end = xhtml.find("-->", start + 4)
        if end == -1:  # unterminated: so is every later one; keep the text, drop the openers
            parts.append(xhtml[start + 4 :].replace("<!--", ""))
            return "".join(parts)
        position = end + 3
    parts.append(xhtml[position:])
    return "".join(parts)


def _prepare(xhtml: str) -> str:
    """Take out what ``html.parser`` mishandles, in linear time.

    CDATA becomes escaped text; comments go (no text to keep); a ``<`` that no ``>`` closes
    before the next ``<`` becomes text: html.parser rescans the rest of the input for each
    such one (quadratic: 300 KB of ``<a `` takes minutes), and raises on a bogus ``<![``.
    Storage format escapes ``<`` in attribute values (it is XML), so no real tag is lost.
    """
    xhtml = _strip_comments(_escape_cdata(xhtml.replace("\x00", "")))
    return _UNCLOSED_TAG.sub("&lt;", xhtml.replace("<![", "&lt;!["))


def _parse_tree(xhtml: str) -> _Element:
    builder = _TreeBuilder()
    builder.feed(_prepare(xhtml))
    builder.close()
    return builder.root


# --- rendering -----------------------------------------------------------------------------

_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    """p div section article header footer main aside nav figure figcaption blockquote pre
    ul ol li dl dt dd table thead tbody tfoot tr td th caption colgroup hr h1 h2 h3 h4 h5 h6
    ac:layout ac:layout-section ac:layout-cell ac:rich-text-body ac:plain-text-body
    ac:task-list ac:task ac:adf-extension ac:adf-node ac:adf-content""".split()
)
# Containers headings may sit in and still delimit page sections.
_TRANSPARENT = frozenset(
    "ac:layout ac:layout-section ac:layout-cell div section article main body html".split()
)
_SILENT = frozenset(
    """ac:parameter ac:placeholder ac:adf-attribute ac:adf-mark ac:adf-fallback script style
    colgroup col ri:user ri:attachment ri:page ri:url ri:space ri:blog-post""".split()
)
_PANELS = {name: name.title() for name in "info note warning tip panel success error".split()}
_LAYOUT_MACROS = frozenset({"section", "column"})
_INLINE_MACROS = frozenset({"status", "jira", "anchor", "emoji"})
_CODE_MACROS = frozenset({"code", "noformat"})
_FILE_NAME = re.compile(r"^[^\s/]+\.[A-Za-z0-9]{2,5}$|\.(?:png|jpe?g|gif|svg|webp|bmp)$", re.I)
_LIST_MARKER = re.compile(r"^(?:[-*]|\d+\.)\s+")


class _Sink:
    """Collects lines into sections at the top level, where headings split the page."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.lines: list[str] = []
        self._path: list[tuple[int, str]] = []

    def heading(self, level: int, title: str) -> None:
        self.close()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, title))

    def close(self) -> None:
        text = "\n".join(self.lines).strip("\n")
        if text.strip():
            self.sections.append(Section(tuple(t for _, t in self._path), text))
        self.lines = []


def _macro_name(element: _Element) -> str:
    return element.attrs.get("ac:name", "").strip().lower()


def _parameters(element: _Element) -> dict[str, str]:
    return {
        p.attrs.get("ac:name", ""): clean_text(p.raw_text())
        for p in element.elements()
        if p.tag == "ac:parameter"
    }


def _is_block(element: _Element) -> bool:
    if element.tag in ("ac:structured-macro", "ac:macro"):
        return _macro_name(element) not in _INLINE_MACROS
    return element.tag in _BLOCKS


def _flow(nodes: Sequence[_Element | str], sink: _Sink | None = None) -> list[str]:
    """Render a run of mixed inline and block content into lines.

    With a sink (page top level), headings and layout containers feed sections instead.
    """
    local: list[str] = []
    buffer: list[str] = []

    def emit(lines: Iterable[str]) -> None:
        (sink.lines if sink is not None else local).extend(lines)

    def flush() -> None:
        text = "".join(buffer)
        buffer.clear()
        emit(line for line in map(clean_text, text.split(_BR)) if line)

    for node in nodes:
        if isinstance(node, str):
            buffer.append(node)
        elif sink is not None and node.tag in _HEADINGS:
            flush()
            title = clean_text(_inline(node).replace(_BR, " "))
            if title:
                sink.heading(_HEADINGS[node.tag], title)
        elif sink is not None and (
            node.tag in _TRANSPARENT
            or (node.tag == "ac:structured-macro" and _macro_name(node) in _LAYOUT_MACROS)
        ):
            flush()
            body = node.child("ac:rich-text-body") if node.tag == "ac:structured-macro" else node
            if body is not None:
                _flow(body.children, sink)
        elif node.tag == "br":
            buffer.append(_BR)
        elif _is_block(node):
            flush()
            emit(_block(node))
        else:
            buffer.append(_inline(node))
    flush()
    return local


def _inline(element: _Element) -> str:
    tag = element.tag
    if tag in _SILENT:
        return ""
    if tag == "br":
        return _BR
    if tag == "ac:link":
        return _link_text(element)
    if tag in ("ac:image", "img"):
        text = _image_text(element)
        return f" {text} " if text else ""
    if tag in ("ac:structured-macro", "ac:macro"):
        return " ".join(_macro(element))
    if tag == "ac:emoticon":
        return element.attrs.get("ac:emoji-fallback", "")
    if tag == "time":
        return element.attrs.get("datetime", "") or element.raw_text()
    text = "".join(c if isinstance(c, str) else _inline(c) for c in element.children)
    # A block inside inline content (a <p> in a caption, a cell in a link) still ends a word.
    return f" {text} " if tag in _BLOCKS else text


def _block(element: _Element) -> list[str]:
    tag = element.tag
    if tag in _SILENT or tag == "hr":
        return []
    if tag in ("ul", "ol"):
        return _list(element)
    if tag == "table":
        return _table(element)
    if tag == "pre" or tag == "ac:plain-text-body":
        return _clean_code(element.raw_text())
    if tag == "blockquote":
        return [f"> {line}" for line in _flow(element.children)]
    if tag in ("ac:structured-macro", "ac:macro"):
        return _macro(element)
    if tag == "ac:task-list":
        return _tasks(element)
    if tag == "ac:adf-extension":
        node = element.child("ac:adf-node")
        return _adf_node(node) if node is not None else []
    if tag == "ac:adf-node":
        return _adf_node(element)
    return _flow(element.children)


def _list(element: _Element) -> list[str]:
    ordered = element.tag == "ol"
    start = element.attrs.get("start", "1")
    number = int(start) if start.isdigit() else 1
    lines: list[str] = []
    for child in element.children:
        if isinstance(child, str):
            if text := clean_text(child):  # text directly in a list: malformed, keep it
                lines.append(f"- {text}")
            continue
        if child.tag in ("ul", "ol"):  # a list directly in a list: nest it under the last item
            lines.extend(f"  {line}" for line in _list(child))
            continue
        item = _flow(child.children) if child.tag == "li" else _flow([child])
        if not item:
            continue
        marker = f"{number}. " if ordered else "- "
        number += 1
        lines.append(marker + item[0])
        lines.extend(f"  {line}" for line in item[1:])
    return lines


def _rows(element: _Element) -> Iterable[_Element]:
    for child in element.elements():
        if child.tag == "tr":
            yield child
        elif child.tag in ("thead", "tbody", "tfoot"):
            yield from _rows(child)


def _table(table: _Element) -> list[str]:
    lines: list[str] = []
    caption = table.child("caption")
    if caption is not None and (text := " ".join(_flow(caption.children))):
        lines.append(text)
    for row in _rows(table):
        cells = []
        for cell in row.elements():
            if cell.tag not in ("td", "th"):
                continue
            parts = (_LIST_MARKER.sub("", line.strip()) for line in _flow(cell.children))
            if text := "; ".join(part for part in parts if part):
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines


def _tasks(element: _Element) -> list[str]:
    lines = []
    for task in element.elements():
        if task.tag != "ac:task":
            continue
        status = task.child("ac:task-status")
        done = status is not None and status.raw_text().strip() == "complete"
        body = task.child("ac:task-body")
        text = " ".join(_flow(body.children)) if body is not None else ""
        if text:
            lines.append(f"- [{'x' if done else ' '}] {text}")
    return lines


def _labelled(label: str, title: str, body: list[str]) -> list[str]:
    if title:
        return [f"{label}: {title}", *body]
    if body:
        return [f"{label}: {body[0]}", *body[1:]]
    return []


def _macro(macro: _Element) -> list[str]:
    name = _macro_name(macro)
    params = _parameters(macro)
    rich = macro.child("ac:rich-text-body")
    plain = macro.child("ac:plain-text-body")
    body = _flow(rich.children) if rich is not None else []
    if name in _CODE_MACROS:
        code = _clean_code(plain.raw_text()) if plain is not None else []
        return ([params["title"]] if params.get("title") else []) + code
    if name in _PANELS:
        return _labelled(_PANELS[name], params.get("title", ""), body)
    if name == "status":
        return [params["title"]] if params.get("title") else []
    if name == "jira":
        return [params["key"]] if params.get("key") else []
    if name == "expand":
        return ([params["title"]] if params.get("title") else []) + body
    if rich is not None:
        return body
    if plain is not None:
        return _clean_code(plain.raw_text())
    return []  # toc, children, anchor, attachments, …: nothing a reader would quote


def _adf_node(node: _Element) -> list[str]:
    attributes = {
        a.attrs.get("key", ""): clean_text(a.raw_text())
        for a in node.elements()
        if a.tag == "ac:adf-attribute"
    }
    content = node.child("ac:adf-content")
    body = _flow(content.children) if content is not None else []
    if node.attrs.get("type") == "panel":
        label = _PANELS.get(attributes.get("panel-type", "").lower(), "Panel")
        return _labelled(label, "", body)
    return body


def _link_text(link: _Element) -> str:
    for body_tag in ("ac:link-body", "ac:plain-text-link-body"):
        body = link.child(body_tag)
        if body is not None and (text := clean_text(_inline(body).replace(_BR, " "))):
            return text
    for target, attribute in (
        ("ri:page", "ri:content-title"),
        ("ri:blog-post", "ri:content-title"),
        ("ri:attachment", "ri:filename"),
        ("ri:space", "ri:space-key"),
        ("ri:url", "ri:value"),
    ):
        resource = link.child(target)
        if resource is not None and (text := clean_text(resource.attrs.get(attribute, ""))):
            return text
    return clean_text(link.attrs.get("ac:anchor", ""))


def _image_text(image: _Element) -> str:
    caption = image.child("ac:caption")
    if caption is not None and (text := clean_text(_inline(caption).replace(_BR, " "))):
        return text
    alt = clean_text(image.attrs.get("ac:alt", "") or image.attrs.get("alt", ""))
    if alt and not _FILE_NAME.search(alt):
        return alt
    return ""  # an attachment's file name ("스크린샷 2024-08-01 오후 2.50.06.png") is noise


# --- public API ----------------------------------------------------------------------------


def parse_storage(xhtml: str | None) -> list[Section]:
    """Split a storage-format body into sections of clean text. Never raises on bad markup."""
    if not xhtml or not xhtml.strip():
        return []
    try:
        sink = _Sink()
        _flow(_parse_tree(xhtml).children, sink)
        sink.close()
        return sink.sections
    except Exception as exc:  # a bad page must not stop a reindex; keep what text we can
        log.warning("storage format rendering failed (%r); falling back to tag stripping", exc)
        text = clean_text(html.unescape(re.sub(r"<[^>]*>", " ", _prepare(xhtml))))
        return [Section((), text)] if text else []


def storage_to_text(xhtml: str | None) -> str:
    """The whole page as text, each heading on its own line before its section."""
    parts = []
    for section in parse_storage(xhtml):
        if section.heading_path:
            parts.append(section.heading_path[-1])
        parts.append(section.text)
    return "\n".join(parts)
