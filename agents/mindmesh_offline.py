"""MindMesh's offline answer: extractive, from the passages' own sentences, with citations.

Sentences are scored by the question terms they contain (weighted by how rare each term is
across the retrieved passages) plus a small bonus for the passage's retrieval rank; the best
two or three, from different places, become the answer, each followed by its passage number.
Hangul, kana and CJK ideographs are matched by character bigrams, since those scripts do not
separate words with spaces the way the word tokenizer assumes.
"""

from __future__ import annotations

import math
import re

from agents.mindmesh_models import AnswerIn, AnswerPlan

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af]")
_SENT = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it of on or should the this to "
    "was what when where which who why will with you your our we".split()
)
NO_ANSWER = "No passage in this tenant's Confluence answers that question."


def terms(text: str) -> set[str]:
    out: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if _CJK.search(word):
            out.update(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOP and len(word) > 1:
            out.add(word)
    return out


def answer(request: AnswerIn, max_sentences: int = 3) -> AnswerPlan:
    question = terms(request.question)
    if not question or not request.passages:
        return AnswerPlan(answer=NO_ANSWER, citations=[])
    passage_terms = [terms(p) for p in request.passages]
    n = len(passage_terms)
    idf = {t: math.log(1 + n / (1 + sum(t in pt for pt in passage_terms))) for t in question}
    scored: list[tuple[float, int, str]] = []
    for rank, passage in enumerate(request.passages):
        for sentence in _SENT.split(passage):
            sentence = sentence.strip()
            if len(sentence) < 8:
                continue
            hit = question & terms(sentence)
            if not hit:
                continue
            score = sum(idf[t] for t in hit) + 0.3 / (1 + rank)
            scored.append((score, rank, sentence))
    if not scored:
        return AnswerPlan(answer=NO_ANSWER, citations=[])
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen: list[tuple[int, str]] = []
    for _, rank, sentence in scored:
        if any(sentence == c[1] for c in chosen):
            continue
        chosen.append((rank, sentence))
        if len(chosen) == max_sentences:
            break
    parts = [f"{sentence} [{rank + 1}]" for rank, sentence in chosen]
    return AnswerPlan(answer=" ".join(parts), citations=sorted({r + 1 for r, _ in chosen}))
