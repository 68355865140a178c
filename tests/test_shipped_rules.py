"""The shipped rules (rules/*.toml): they load, every rule carries examples that pass, and together they cover
every actor and theme the seed article (seeds/iraq-militias-disarmament.txt) names.

A rule edit that breaks one of its own examples fails here, with the example's file and line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.match import Matcher
from monitor.rules import ExampleResult, Rule, RuleSet, load_rules, run_examples, shipped_rules_dir

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
ARTICLE = REPO / "seeds" / "iraq-militias-disarmament.txt"
MIN_EXAMPLES = 3

SHIPPED = load_rules(RULES_DIR)
RULE_NAMES = [rule.name for rule in SHIPPED.rules]

# Every name and theme of the article, as the article writes it, and the term that must find it there.
ARTICLE_MENTIONS = [
    ("Kataeb Hezbollah", "kataib-hezbollah"),
    ("al-Nujaba", "nujaba"),
    ("Kata\u2019ib Sayyid al-Shuhada", "kataib-sayyid-al-shuhada"),
    ("Ansar Allah al-Awfiya", "ansar-allah-al-awfiya"),
    ("Islamic Resistance in Iraq", "islamic-resistance-in-iraq"),
    ("Revolutionary Guards", "irgc"),
    ("IRGC", "irgc"),
    ("Mohammed Shia al-Sudani", "sudani"),
    ("Prime Minister Sudani's", "sudani"),
    ("Izzat al-Shahbndar", "izzat-al-shahbandar"),
    ("Farhad Alaadin", "farhad-alaadin"),
    ("Iraqi Militias", "iraqi-militias-generic"),
    ("Iran-backed militia", "iran-backed-groups"),
    ("Shiite militia", "iran-backed-groups"),
    ("Disarmament", "disarm"),
    ("disarming", "disarm"),
    ("airstrikes", "strike"),
    ("warnings", "pressure"),
    ("US officials", "us-government"),
    ("Trump administration", "us-government"),
    ("weapons", "weapons"),
    ("under state control", "state-control"),
    ("transforming", "integration"),
    ("political parties", "state-institutions"),
    ("integrating", "integration"),
    ("armed forces", "state-institutions"),
    ("attacks", "attack"),
    ("US forces", "us-forces"),
    ("Syria", "syria"),
    ("Iraq's security landscape", "iraq"),
]

# What the article as a whole (first line as title, the rest as content) must fire.
ARTICLE_RULES = {
    "kataib-hezbollah",
    "nujaba",
    "kataib-sayyid-al-shuhada",
    "ansar-allah-al-awfiya",
    "islamic-resistance-in-iraq",
    "iraqi-militias",
    "sudani",
    "shahbandar",
    "alaadin",
    "militia-disarmament",
    "weapons-state-control",
    "us-strikes",
    "us-pressure",
    "attacks-on-us-forces",
}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    """A matcher compiled from the shipped rules."""
    return Matcher(SHIPPED)


@pytest.fixture(scope="module")
def example_results(matcher: Matcher) -> list[ExampleResult]:
    """Every example of every shipped rule, run once."""
    return run_examples(SHIPPED, matcher)


@pytest.fixture(scope="module")
def probe_matcher() -> Matcher:
    """A matcher with one rule per shipped term (see `_probe_ruleset`)."""
    return Matcher(_probe_ruleset())


def test_shipped_rules_load_from_repo_and_package() -> None:
    """load_rules reads the repo's rules/ and the installed shipped-rules directory to the same rules."""
    assert len(SHIPPED.rules) >= 20
    assert len(SHIPPED.files) >= 7
    installed = load_rules(shipped_rules_dir())
    assert [rule.name for rule in installed.rules] == RULE_NAMES


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_has_description_and_examples_both_ways(name: str) -> None:
    """Each rule has a description and at least three `match` and three `no_match` examples."""
    rule = SHIPPED.rule(name)
    assert rule is not None
    assert rule.description
    matches = [example for example in rule.examples if example.should_match]
    no_matches = [example for example in rule.examples if not example.should_match]
    assert len(matches) >= MIN_EXAMPLES, f"{rule.location}: {len(matches)} match examples"
    assert len(no_matches) >= MIN_EXAMPLES, f"{rule.location}: {len(no_matches)} no_match examples"


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_examples_pass(name: str, example_results: list[ExampleResult]) -> None:
    """Every example of the rule fires (match) or stays silent (no_match) as written in its file."""
    results = [result for result in example_results if result.rule == name]
    assert results
    failed = [
        f"{result.location}: {'should' if result.should_match else 'should NOT'} match: {result.text!r}"
        for result in results
        if not result.passed
    ]
    assert not failed, "\n".join(failed)


def test_every_term_is_used_by_a_rule() -> None:
    """No actor or theme is defined without a rule that needs it."""
    used = {term for rule in SHIPPED.rules for term in rule.term_ids}
    assert set(SHIPPED.terms) - used == set()


def _probe_ruleset() -> RuleSet:
    """One rule per shipped term (`any = [term]`), to see exactly which terms a text contains."""
    probes = tuple(
        Rule(
            name=f"probe-{term_id}",
            description=f"probe for {term_id}",
            severity="low",
            fuzziness="strict",
            any_of=(term_id,),
            all_of=(),
            within=0,
            same_sentence=False,
            exclude=(),
            targets=(),
            examples=(),
            location=term.location,
        )
        for term_id, term in SHIPPED.terms.items()
    )
    return RuleSet(terms=SHIPPED.terms, rules=probes, files=SHIPPED.files)


@pytest.mark.parametrize(("mention", "term_id"), ARTICLE_MENTIONS, ids=[m for m, _ in ARTICLE_MENTIONS])
def test_article_mention_is_found_by_a_shipped_term(mention: str, term_id: str, probe_matcher: Matcher) -> None:
    """The mention is in the article, the term finds it at that place, and some shipped rule needs the term."""
    text = ARTICLE.read_text(encoding="utf-8")
    start = text.find(mention)
    assert start >= 0, f"{mention!r} is not in the article"
    end = start + len(mention)
    found = [
        hit
        for match in probe_matcher.match_text("", content=text)
        if match.rule == f"probe-{term_id}"
        for hit in match.hits
        if hit.start < end and start < hit.end
    ]
    assert found, f"term {term_id!r} does not find {mention!r} in the article"
    assert any(term_id in rule.term_ids for rule in SHIPPED.rules), f"no shipped rule needs {term_id!r}"


def test_article_fires_the_story_rules(matcher: Matcher) -> None:
    """The seed article, as a feed entry, fires every rule for the actors and themes it names."""
    title, _, body = ARTICLE.read_text(encoding="utf-8").partition("\n")
    fired = {match.rule for match in matcher.match_text(title, content=body)}
    assert ARTICLE_RULES - fired == set()


@pytest.mark.parametrize(
    ("headline", "silent"),
    [
        ("Sudan's army clashes with RSF in Khartoum", "sudani"),
        ("Sudanese refugees cross into Chad", "sudani"),
        ("Yemen's Ansar Allah vows more Red Sea attacks", "ansar-allah-al-awfiya"),
        ("Lebanon's Kataeb party elects a new leader", "kataib-hezbollah"),
        ("Hezbollah chief Naim Qassem vows to keep weapons", "kataib-hezbollah"),
        ("North Korea rejects calls to disarm", "militia-disarmament"),
        ("Hezbollah refuses to disarm, says cabinet decision is a sin", "militia-disarmament"),
    ],
)
def test_traps_named_in_the_brief_stay_silent(headline: str, silent: str, matcher: Matcher) -> None:
    """The classic look-alikes fire no rule at all, in particular not the one they resemble."""
    fired = {match.rule for match in matcher.match_text(headline)}
    assert silent not in fired
    assert fired == set()
