"""The `redact` scanner on the labelled corpus (tests/pii_corpus.py): per-type recall and precision, how many
PII-free texts it changes, and its throughput (MB/s of text, one core, CPU time) against two baselines
measured in the same run on the same texts:

- a naive five-regex scrubber (email, phone, SSN, card, IPv4 with Python's `re`, each `sub`-stituted);
- Presidio's pattern recognizers (email, phone, card, SSN, IP, IBAN, URL; no NLP model), spans replaced.

The baselines' recall is the share of labelled items whose value is gone from their output.
Run: `.venv/bin/python -m bench.redact` (Presidio comes with `pip install -e '.[presidio]'`; skipped without it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from bench.timing import best_cpu_seconds
from llmtap.processors.redact import RedactConfig, Scanner
from tests.pii_corpus import Sample, generate, score

NAIVE = [re.compile(p) for p in (
    r"[\w.+-]+@[\w-]+\.[\w.-]+",
    r"\+?\d{1,3}?[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
    r"\d{3}-\d{2}-\d{4}",
    r"\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}",
    r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
)]


def naive(text: str) -> str:
    for pattern in NAIVE:
        text = pattern.sub("<PII>", text)
    return text


def presidio_scrubber() -> Callable[[str], str] | None:
    try:  # an optional extra: typed as Any so that mypy passes with or without it
        pr: Any = importlib.import_module("presidio_analyzer.predefined_recognizers")
    except ImportError:
        return None
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries to download a suffix list, then falls back
    recognizers = [pr.EmailRecognizer(), pr.PhoneRecognizer(), pr.CreditCardRecognizer(), pr.UsSsnRecognizer(),
                   pr.IpRecognizer(), pr.IbanRecognizer(), pr.UrlRecognizer()]

    def scrub(text: str) -> str:
        spans: list[tuple[int, int]] = []
        for r in recognizers:
            spans.extend((x.start, x.end) for x in r.analyze(text, entities=r.supported_entities, nlp_artifacts=None))
        out, at = [], 0
        for start, end in sorted(spans):
            if start >= at:
                out.append(text[at:start])
                out.append("<PII>")
                at = end
        out.append(text[at:])
        return "".join(out)

    return scrub


def throughput(texts: list[str], scrub: Callable[[str], object], rounds: int) -> float:
    size = sum(len(t.encode()) for t in texts)
    return size / best_cpu_seconds(texts, scrub, rounds) / 1e6


def baseline_quality(samples: list[Sample], scrub: Callable[[str], str]) -> tuple[float, float]:
    """(recall over all labelled items, share of PII-free texts changed)."""
    found = total = negatives = changed = 0
    for s in samples:
        out = scrub(s.text)
        if not s.entities:
            negatives += 1
            changed += out != s.text
        for _, value in s.entities:
            total += 1
            found += value not in out and json.dumps(value)[1:-1] not in out
    return found / total, changed / negatives


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    samples = generate(args.samples, args.seed)
    texts = [s.text for s in samples]
    scanner = Scanner(RedactConfig())
    result = score(scanner, samples)
    print(f"corpus: {len(samples)} texts, {sum(not s.entities for s in samples)} hard negatives, "
          f"{sum(len(t.encode()) for t in texts) / 1e6:.2f} MB")
    print(f"{'type':16} {'recall':>7} {'precision':>9} {'items':>6}")
    for kind in result.types:
        n = result.found[kind] + result.missed[kind]
        print(f"{kind:16} {result.recall(kind):7.3f} {result.precision(kind):9.3f} {n:6d}")
    total_found = sum(result.found.values())
    total = total_found + sum(result.missed.values())
    print(f"llmtap: recall {total_found / total:.3f}, PII-free texts changed {result.change_rate:.1%}, "
          f"JSON broken {result.json_broken}/{result.json_samples}")

    ours = throughput(texts, scanner.redact, args.rounds)
    base = throughput(texts, naive, args.rounds)
    recall, changed = baseline_quality(samples, naive)
    print(f"naive five-regex: recall {recall:.3f}, PII-free texts changed {changed:.1%}")
    presidio = presidio_scrubber()
    if presidio is not None:
        slow = throughput(texts[: max(len(texts) // 10, 50)], presidio, 1)
        recall, changed = baseline_quality(samples, presidio)
        print(f"presidio patterns: recall {recall:.3f}, PII-free texts changed {changed:.1%}")
    clean = [s.text for s in samples if not s.entities]
    ours_clean, base_clean = throughput(clean, scanner.redact, args.rounds), throughput(clean, naive, args.rounds)
    print(f"\nthroughput (MB/s, one core): llmtap {ours:.2f}, naive five-regex {base:.2f} -> {ours / base:.2f}x")
    if presidio is not None:
        print(f"                             presidio patterns {slow:.3f} -> {ours / slow:.0f}x")
    print(f"PII-free texts only: llmtap {ours_clean:.2f}, naive five-regex {base_clean:.2f} -> "
          f"{ours_clean / base_clean:.2f}x")
    if presidio is None:
        print("presidio-analyzer is not installed: pip install -e '.[presidio]'")


if __name__ == "__main__":
    main()
