"""stories.py (one alert per story) measured on a labelled set, and story grouping in the store.

tests/data/story_pairs.csv holds 684 pairs of headlines written for this test (never copied from an outlet),
labelled `same` or `different` story, with a `kind`:
- same_event_reworded: one event told by different outlets in their own words (the hard positive);
- wire_copy_edited: one wire story republished with small edits, an outlet suffix, an added clause;
- same_link: one article under two URLs (tracking parameters, AMP, www., http/https), titles edited;
- same_actor_other_event / follow_up: the same group or person in another event, or the next development of
  a story (labelled different: a new development deserves its own alert);
- near_identical_other_event: different events whose headlines differ by one or two words ("in Kirkuk" /
  "in Diyala", "calls for" / "calls off"): the adversarial negatives;
- same_site_other_article, unrelated.
`split` is "dev" (the thresholds of monitor.stories were chosen on it) or "holdout" (written after they were
fixed; one bug it exposed was then fixed, so it is no longer perfectly blind).

Why the bounds below: a false merge swallows the alert of a different event (an analyst misses it), a missed
merge only sends one more alert for a story (what monitor did before grouping). So false merges are held
near zero and missed merges are bounded only where lexical grouping can be expected to work (copies and
links); heavily reworded reports mostly stay separate alerts, and the test records that rather than hiding it.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import RuleError
from monitor.model import Entry, FeedConfig, Hit, Match
from monitor.rules import load_rules
from monitor.store import NewEntry, Store, StoryOptions
from monitor.stories import Story, canonical_link, find_story, same_story, story_key

PAIRS = Path(__file__).parent / "data" / "story_pairs.csv"
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


def labelled_pairs() -> list[dict[str, str]]:
    """The rows of tests/data/story_pairs.csv."""
    with PAIRS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def error_rates(rows: list[dict[str, str]]) -> tuple[float, float, Counter[str], Counter[str]]:
    """(false-merge rate, missed-merge rate, errors per kind, pairs per kind) of same_story on `rows`."""
    errors: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    false_merges = missed = different = same = 0
    for row in rows:
        merged = same_story(story_key(row["title_a"], row["link_a"]), story_key(row["title_b"], row["link_b"]))
        gold = row["label"] == "same"
        totals[row["kind"]] += 1
        same += gold
        different += not gold
        if merged != gold:
            errors[row["kind"]] += 1
            false_merges += not gold
            missed += gold
    return false_merges / different, missed / same, errors, totals


def test_labelled_set_is_large_and_covers_the_hard_cases() -> None:
    """Several hundred labelled pairs, both labels, every hard kind, a held-out part."""
    rows = labelled_pairs()
    assert len(rows) >= 600
    kinds = Counter(row["kind"] for row in rows)
    for kind in ("same_event_reworded", "wire_copy_edited", "same_link", "follow_up", "same_actor_other_event"):
        assert kinds[kind] >= 10, kind
    assert kinds["near_identical_other_event"] >= 30
    assert {row["label"] for row in rows} == {"same", "different"}
    assert sum(row["split"] == "holdout" for row in rows) >= 80


def test_false_merges_are_rare() -> None:
    """At most 2% of different-story pairs are merged; none outside the adversarial near-identical ones."""
    false_rate, missed_rate, errors, totals = error_rates(labelled_pairs())
    figures = f"false-merge {false_rate:.1%}, missed-merge {missed_rate:.1%}, errors {dict(errors)} of {dict(totals)}"
    assert false_rate <= 0.02, figures
    assert errors["near_identical_other_event"] <= 0.2 * totals["near_identical_other_event"], figures
    for kind in ("same_actor_other_event", "follow_up", "unrelated", "same_site_other_article"):
        assert errors[kind] == 0, figures


def test_copies_and_links_merge() -> None:
    """Wire copies and equal links are merged (at most 5% missed); heavy rewording is mostly not (recorded)."""
    false_rate, missed_rate, errors, totals = error_rates(labelled_pairs())
    figures = f"false-merge {false_rate:.1%}, missed-merge {missed_rate:.1%}, errors {dict(errors)} of {dict(totals)}"
    assert errors["same_link"] == 0, figures
    assert errors["wire_copy_edited"] <= 0.05 * totals["wire_copy_edited"], figures
    # Lexical grouping cannot see that "Iraqi premier arrives in Iran" and "Sudani travels to Tehran" are one
    # event: these stay separate alerts. The bound only guards against the figure getting worse.
    assert errors["same_event_reworded"] <= 0.92 * totals["same_event_reworded"], figures
    assert missed_rate <= 0.70, figures


def test_holdout_rates_stay_within_the_same_bounds() -> None:
    """On the pairs written after the thresholds were fixed, false merges stay rare and copies merge."""
    holdout = [row for row in labelled_pairs() if row["split"] == "holdout"]
    false_rate, _, errors, totals = error_rates(holdout)
    assert errors["near_identical_other_event"] <= 0.2 * totals["near_identical_other_event"]
    assert errors["wire_copy_edited"] == 0
    assert false_rate <= 0.05


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.example.com/a/b?utm_source=rss&utm_medium=x", "http://example.com/a/b/"),
        ("https://example.com/amp/a/b", "https://example.com/a/b"),
        ("https://example.com/a/b.amp", "https://m.example.com/a/b"),
        ("https://EXAMPLE.com/a?id=3&fbclid=x#top", "https://example.com/a?id=3"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2&gclid=z"),
        ("https://example.com/a/?amp=1&at_medium=RSS", "https://amp.example.com/a"),
    ],
)
def test_canonical_link_ignores_tracking_amp_scheme_and_www(a: str, b: str) -> None:
    """Links that name one article reduce to the same canonical form."""
    assert canonical_link(a) == canonical_link(b) != ""


def test_canonical_link_keeps_what_identifies_the_article() -> None:
    """Article ids in paths and queries stay; non-web links have no canonical form."""
    assert canonical_link("https://example.com/story?id=1") != canonical_link("https://example.com/story?id=2")
    assert canonical_link("https://example.com/a") != canonical_link("https://example.com/b")
    assert canonical_link("javascript:alert(1)") == canonical_link("") == canonical_link("http://[::1") == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Four soldiers killed in ISIS attack in Kirkuk", "Four soldiers killed in ISIS attack in Diyala"),
        ("Iraq executes 11 men convicted of terrorism", "Iraq executes 21 men convicted of terrorism"),
        ("Moqtada al-Sadr calls for protest in Baghdad", "Moqtada al-Sadr calls off protest in Baghdad"),
        ("Nujaba claims drone launched at northern Israel", "Nujaba denies drone launched at northern Israel"),
        ("Lebanon's Hezbollah rejects disarmament plan", "Iraq's Kataib Hezbollah rejects disarmament plan"),
        ("Kataib Hezbollah", "Kataib Hezbollah statement"),
        ("Kataib Hezbollah claim number 1 about topic 7", "Kataib Hezbollah claim number 7 about topic 49"),
    ],
)
def test_vetoes_keep_near_identical_events_apart(a: str, b: str) -> None:
    """Different places, numbers, opposite verbs, different actors and too few shared words never merge."""
    assert not same_story(story_key(a), story_key(b))


def test_wire_copy_with_outlet_suffix_and_number_words_merges() -> None:
    """An outlet suffix, "4"/"four" and an added clause do not stop two copies of one story from merging."""
    a = story_key("Islamic State attack kills four soldiers in Kirkuk")
    b = story_key("Islamic State attack kills 4 Iraqi soldiers in Kirkuk - AFP")
    assert same_story(a, b)


def test_find_story_picks_the_closest_open_story() -> None:
    """A report joins the open story with the most similar report, or a story with its canonical link."""
    open_stories = [
        Story(1, (story_key("Rockets hit Baghdad airport near coalition base"),)),
        Story(2, (story_key("Rockets fired at US embassy in Baghdad Green Zone"),)),
        Story(3, (story_key("Unrelated", "https://news.example/x?utm_source=a"),)),
    ]
    assert find_story(story_key("Rockets fired at US embassy in Baghdad Green Zone, sources say"), open_stories) == 2
    assert find_story(story_key("Another title", "https://www.news.example/x"), open_stories) == 3
    assert find_story(story_key("Sadr calls for protest"), open_stories) is None


# --- grouping in the store ----------------------------------------------------------------------------------

WIRES = [FeedConfig(url=f"https://wire{n}.example/rss", name=f"Wire {n}", interval=600) for n in (1, 2, 3)]
COPY_A = "Kataib Hezbollah agrees to hand over heavy weapons to Iraqi state"
COPY_B = "Iraq's Kataib Hezbollah agrees to hand over its heavy weapons to the state - Reuters"


def report(title: str, n: int, link: str = "") -> Entry:
    """An entry numbered `n`."""
    return Entry(entry_id=f"urn:{n}", title=title, link=link or f"https://wire.example/{n}")


def hit_match(rule: str = "kh", severity: str = "high") -> Match:
    """A match of `rule` with one hit."""
    return Match(rule, severity, 100.0, (Hit("kh", "actor", "KH", "title", 0, 2, "KH", 100.0),))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store with three feeds."""
    opened = Store.open(tmp_path / "monitor.db")
    opened.sync_feeds(WIRES, NOW)
    yield opened
    opened.close()


def record(store: Store, feed: int, entry: Entry, *rules: str, when: datetime = NOW, updates: str = "") -> int:
    """Record `entry` from feed number `feed` with matches of `rules`; return the alerts created."""
    options = StoryOptions(window=86400.0, updates=frozenset(filter(None, [updates])))
    result = store.record_entries(
        feed,
        [NewEntry(entry, tuple(hit_match(rule) for rule in rules or ("kh",)), alert=True)],
        now=when,
        route=lambda _match: ["mail"],
        stories=options,
    )
    return result.alerts


def test_a_second_outlet_attaches_to_the_story_without_alerting(store: Store) -> None:
    """The same story from another outlet raises no alert; the first alert lists it as also reported."""
    assert record(store, 1, report(COPY_A, 1)) == 1
    assert record(store, 2, report(COPY_B, 2), when=NOW + timedelta(hours=2)) == 0
    [pending] = store.pending_deliveries(NOW + timedelta(hours=3))
    assert [(r.source, r.title) for r in pending.alert.also_reported] == [("Wire 2", COPY_B)]
    assert pending.alert.story_id is not None
    assert not pending.alert.update


def test_a_different_rule_on_the_same_story_still_alerts(store: Store) -> None:
    """Grouping is per rule: another rule firing on a later report of the story raises its own alert."""
    assert record(store, 1, report(COPY_A, 1), "kh") == 1
    assert record(store, 2, report(COPY_B, 2), "kh", "disarmament") == 1


def test_a_rule_asking_for_updates_alerts_again_marked_as_update(store: Store) -> None:
    """With updates = true a later report alerts again, flagged as an update of the story."""
    assert record(store, 1, report(COPY_A, 1), updates="kh") == 1
    assert record(store, 2, report(COPY_B, 2), updates="kh") == 1
    first, second = store.pending_deliveries(NOW + timedelta(hours=1))
    assert (first.alert.update, second.alert.update) == (False, True)
    assert first.alert.story_id == second.alert.story_id


def test_the_story_window_closes(store: Store) -> None:
    """A report after the window (24 h from the story's first report) starts a new story and alerts."""
    assert record(store, 1, report(COPY_A, 1)) == 1
    assert record(store, 2, report(COPY_B, 2), when=NOW + timedelta(hours=25)) == 1


def test_same_link_from_two_feeds_is_one_story(store: Store) -> None:
    """Two feeds carrying one article (tracking parameters aside) give one alert."""
    assert record(store, 1, report("Headline one", 1, "https://www.site.example/a?utm_source=x")) == 1
    assert record(store, 3, report("A different headline entirely", 2, "https://site.example/a/")) == 0


def test_two_reports_in_one_batch_group_together(store: Store) -> None:
    """Reports of one story recorded in the same transaction are grouped too."""
    result = store.record_entries(
        1,
        [NewEntry(report(COPY_A, 1), (hit_match(),), True), NewEntry(report(COPY_B, 2), (hit_match(),), True)],
        now=NOW,
        route=lambda _match: ["mail"],
        stories=StoryOptions(window=86400.0),
    )
    assert (result.alerts, result.attached) == (1, 1)


def test_rules_accept_updates_and_reject_a_non_boolean(tmp_path: Path) -> None:
    """`updates = true` is a rule key; any other type is a RuleError naming the file and line."""
    rule = '[actors.kh]\nname = "KH group"\n[rules.kh]\nany = ["kh"]\nupdates = {value}\n'
    (tmp_path / "r.toml").write_text(rule.format(value="true"), encoding="utf-8")
    [loaded] = load_rules(tmp_path).rules
    assert loaded.updates
    (tmp_path / "r.toml").write_text(rule.format(value='"yes"'), encoding="utf-8")
    with pytest.raises(RuleError) as raised:
        load_rules(tmp_path)
    assert "r.toml:5" in raised.value.one_line()
    assert "updates" in raised.value.one_line()
