"""Precision and recall of the shipped rules on a labelled set of headlines (tests/data/eval_headlines.csv).

The set was written by hand for this project (not copied from any feed): realistic headlines that must fire
given rules (true names, transliterations, misspellings, Arabic script, acronyms in context) and hard negatives
that must fire nothing (Sudan and the RSF, Yemen's Ansar Allah, Lebanon's Hezbollah and Kataeb party, other
countries' disarmament, lookalike words, lowercase acronyms). Each row lists the rules an analyst expects to
fire; the score is micro-averaged over (headline, rule) pairs: a true positive is an expected rule that fired,
a false positive a rule that fired unexpectedly, a false negative an expected rule that did not fire.

Run `pytest -s tests/test_eval.py` to see the numbers, per-rule counts and every miss.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.match import Matcher
from monitor.rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parent.parent
EVAL_SET = REPO / "tests" / "data" / "eval_headlines.csv"
RULES_DIR = REPO / "rules"
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


@dataclass(frozen=True)
class Labelled:
    """One row of the evaluation set."""

    line: int
    text: str
    expected: frozenset[str]
    note: str


@dataclass
class Score:
    """Micro-averaged counts over (headline, rule) pairs, with the rows that went wrong."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        """Share of fired rules that were expected."""
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else 1.0

    @property
    def recall(self) -> float:
        """Share of expected rules that fired."""
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def read_eval_set() -> list[Labelled]:
    """The rows of the evaluation set (the header is line 1)."""
    with EVAL_SET.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["text", "expected_rules", "note"]
        return [
            Labelled(
                line=number,
                text=row["text"],
                expected=frozenset(name for name in row["expected_rules"].split(";") if name),
                note=row["note"],
            )
            for number, row in enumerate(reader, start=2)
        ]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    """The shipped rules."""
    return load_rules(RULES_DIR)


@pytest.fixture(scope="module")
def matcher(ruleset: RuleSet) -> Matcher:
    """A matcher compiled from the shipped rules."""
    return Matcher(ruleset)


def test_eval_set_is_large_balanced_and_well_formed(ruleset: RuleSet) -> None:
    """The set has 400+ distinct headlines, positives and negatives both well represented, known rule names."""
    rows = read_eval_set()
    names = {rule.name for rule in ruleset.rules}
    assert len(rows) >= 400
    assert len({row.text for row in rows}) == len(rows), "duplicate headlines"
    positives = sum(1 for row in rows if row.expected)
    assert 0.4 <= positives / len(rows) <= 0.6, f"{positives} positives of {len(rows)}"
    unknown = {(row.line, name) for row in rows for name in row.expected if name not in names}
    assert not unknown, f"rules named in the eval set but not shipped: {sorted(unknown)}"
    assert all(row.text.strip() for row in rows)


def test_every_shipped_rule_is_evaluated(ruleset: RuleSet) -> None:
    """Every shipped rule is expected to fire on at least three headlines of the set."""
    counts = Counter(name for row in read_eval_set() for name in row.expected)
    thin = {rule.name: counts[rule.name] for rule in ruleset.rules if counts[rule.name] < 3}
    assert not thin, f"rules with fewer than 3 positive headlines: {thin}"


def test_shipped_rules_reach_precision_and_recall(matcher: Matcher) -> None:
    """Micro-averaged precision and recall of the shipped rules on the set are both at least 0.95."""
    score = Score()
    per_rule: dict[str, Counter[str]] = {}
    misses: list[str] = []
    for row in read_eval_set():
        fired = {found.rule for found in matcher.match_text(row.text)}
        hit, extra, missed = row.expected & fired, fired - row.expected, row.expected - fired
        score.true_positives += len(hit)
        score.false_positives += len(extra)
        score.false_negatives += len(missed)
        for kind, names in (("tp", hit), ("fp", extra), ("fn", missed)):
            for name in names:
                per_rule.setdefault(name, Counter())[kind] += 1
        if extra or missed:
            parts = [f"missed {','.join(sorted(missed))}"] * bool(missed)
            parts += [f"extra {','.join(sorted(extra))}"] * bool(extra)
            misses.append(f"  line {row.line}: {'; '.join(parts)} | {row.text}  ({row.note})")
    print(
        f"\neval set {EVAL_SET.name}: TP={score.true_positives} FP={score.false_positives} "
        f"FN={score.false_negatives} precision={score.precision:.3f} recall={score.recall:.3f}"
    )
    for name in sorted(per_rule):
        counts = per_rule[name]
        print(f"  {name:28} tp={counts['tp']:3} fp={counts['fp']:3} fn={counts['fn']:3}")
    print(f"misses ({len(misses)}):", *misses, sep="\n")
    assert score.precision >= MIN_PRECISION, f"precision {score.precision:.3f} < {MIN_PRECISION}"
    assert score.recall >= MIN_RECALL, f"recall {score.recall:.3f} < {MIN_RECALL}"
