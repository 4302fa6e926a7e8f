"""Extraction quality on the article-extraction-benchmark (AEB) pages of the corpus.

Scored the way scrapinghub/article-extraction-benchmark's evaluate.py scores: both texts cut
into word tokens (`\\w+`), then into shingles of 4 consecutive tokens; per page, true/false
positives and false negatives over the shingle multisets, normalised so that every page
weighs the same; precision and recall are the means over pages, and F1 is their harmonic
mean. A plain word-token variant (the same with single tokens) is reported next to it.
A page where no text comes out counts as recall 0 (and does not count towards precision).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable

from bench.corpus import ArticlePage

WORD = re.compile(r"\w+")


def _grams(text: str, size: int) -> Counter:
    tokens = WORD.findall(text or "")
    if size == 1:
        return Counter(tokens)
    return Counter(tuple(tokens[i:i + size]) for i in range(max(1, len(tokens) - size + 1)) if tokens[i:i + size])


def counts(true: str, predicted: str, size: int = 4) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    truth, guess = _grams(true, size), _grams(predicted, size)
    tp = sum((truth & guess).values())
    fp = sum(guess.values()) - tp
    fn = sum(truth.values()) - tp
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(per_page: list[tuple[float, float, float]]) -> dict[str, float]:
    """Mean precision and recall over pages, and their F1."""
    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    p = statistics.mean(precision(*c) for c in per_page if c[0] + c[1] > 0)
    r = statistics.mean(recall(*c) for c in per_page if c[0] + c[2] > 0)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def newsmon_text(html: bytes, url: str | None) -> str:
    """What newsmon keeps of a page: `monitor.extract.extract`, or nothing if it refuses."""
    from monitor import extract
    from monitor.errors import ExtractError

    try:
        return extract.extract(html, url).text
    except ExtractError:
        return ""


def trafilatura_default(html: bytes, url: str | None) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def newsmon_options_not_fast(html: bytes, url: str | None) -> str:
    """newsmon's OPTIONS with the fallback extractors on (fast=False), for comparison."""
    import trafilatura

    from monitor import extract

    document = trafilatura.bare_extraction(html, url=url, **{**extract.OPTIONS, "fast": False})
    return (getattr(document, "text", None) or "") if document is not None else ""


EXTRACTORS: dict[str, Callable[[bytes, str | None], str]] = {
    "newsmon (monitor.extract.extract)": newsmon_text,
    "trafilatura.extract, default options": trafilatura_default,
    "newsmon OPTIONS with fast=False": newsmon_options_not_fast,
}


def evaluate(pages: list[ArticlePage]) -> dict:
    """Scores of each extractor on the AEB pages that have ground truth."""
    pages = [page for page in pages if page.collection == "aeb" and page.truth is not None]
    truths = [json.loads(page.truth.read_text(encoding="utf-8")).get("articleBody", "") for page in pages]
    out: dict = {"pages": len(pages), "extractors": {}}
    for name, function in EXTRACTORS.items():
        shingles, words, empty = [], [], 0
        started = time.process_time()
        for page, truth in zip(pages, truths):
            text = function(page.html, page.url)
            empty += not text.strip()
            shingles.append(counts(truth, text, 4))
            words.append(counts(truth, text, 1))
        cpu = time.process_time() - started
        out["extractors"][name] = {"shingles": scores(shingles), "words": scores(words), "empty": empty,
                                   "cpu_ms_per_page": 1000 * cpu / len(pages)}
    return out
