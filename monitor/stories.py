"""Story grouping (pure): decide whether a new report is one more outlet's take on a story already alerted.

The store records each alerting entry; before it raises an alert it asks `find_story` whether the entry's
title and link belong to a story seen within the story window (default 24 h). A match attaches the entry to
that story ("also reported by ...") and, unless the rule asks for updates, raises no second alert.

Two reports are the same story when
1. their links are equal after `canonical_link` (scheme, www./m./amp. hosts, AMP paths, trailing slashes,
   fragments and tracking parameters such as utm_* and fbclid dropped); or
2. their titles are close. `story_key` folds a title (monitor.normalize.fold), drops an outlet suffix
   ("... - Reuters"), stop words and newsroom filler, and cuts every word to a STEM_LENGTH-letter stem;
   rapidfuzz's `token_set_ratio` of the two stem lists must reach TITLE_THRESHOLD, with at least MIN_SHARED
   stems in common covering at least MIN_COVERAGE of the shorter title, and no veto applies:
   - both titles carry numbers, not the same ones ("kills 3" / "kills 11", "claim 1" / "claim 7 of 49");
   - their reversal words differ ("claims" / "denies", "calls for" / "calls off", "rise" / "fall");
   - each names someone or somewhere the other does not: a capitalised word (not the first, unless
     possessive: "Lebanon's") whose stem is missing from the other title ("in Kirkuk" / "in Diyala").
     Titles in Title Case carry no such signal and skip this veto.
Merging two different events loses an alert, while failing to merge only repeats one, so the thresholds are
set for a low false-merge rate first. They are measured on tests/data/story_pairs.csv (tests/test_stories.py;
figures in docs/alerts.md): reworded wire copies and equal links merge, heavy rewording mostly does not.

No I/O: the store hands in the recent stories' titles and links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from rapidfuzz import fuzz

from monitor.normalize import fold

TITLE_THRESHOLD = 70.0
"""token_set_ratio (0-100) of the two titles' stems needed to call them one story."""

MIN_SHARED = 3
"""Stems the two titles must have in common (short titles sharing one or two words are not enough)."""

MIN_COVERAGE = 0.5
"""Share of the shorter title's stems that the other title must contain."""

STEM_LENGTH = 5
"""Words are compared by their first letters only, so "strikes", "striking" and "strike" agree."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS = _words(
    """
    a about above after again against all also am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers him his how i if in into is it its itself just me more most my no nor not now of off on once
    only or other our out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which while who whom why
    will with would you your
    says said say saying told tells report reports reported reportedly according amid despite new latest
    breaking update updated updates live watch video exclusive analysis explainer opinion official officials
    source sources statement week day today yesterday tonight morning evening
    """
)
"""Function words and newsroom filler: they make unrelated headlines look alike."""

REVERSALS = _words(
    """
    deny denies denied refuse refuses refused reject rejects rejected resume resumes resumed halt
    halts halted suspend suspends suspended cancel cancels cancelled canceled postpone postpones postponed
    delay delays delayed off lose loses lost fail fails failed rise rises rose fall falls fell high low
    """
)
"""Words that turn a headline into its opposite: present in one title only, they veto a merge."""

TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ocid", "cmpid", "ref"}
    | {"ref_src", "ref_url", "src", "source", "smid", "smtyp", "ito", "rss", "feed", "amp", "outputtype"}
    | {"output", "_ga", "_gl", "spm", "share", "s", "cid", "intcmp", "taid", "guccounter"}
)
"""Query parameters that say how a reader arrived, not which article it is."""

TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "__twitter")

_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_OUTLET_SUFFIX = re.compile(r"\s+[-–—|]\s+[^-–—|]{1,48}$")
_POSSESSIVE = re.compile(r"['’]s$")  # "Lebanon's ..." at the start of a title is a name
_US = re.compile(r"\bU\.?S\.?A?\b")  # "US" folds to the stop word "us": keep the country
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "dozen": "12",
    "twenty": "20",
    "hundred": "100",
}
_SYNONYMS = {"american": "usa", "americans": "usa", "iraqi": "iraq", "iraqis": "iraq"}


@dataclass(frozen=True)
class StoryKey:
    """What grouping compares of one report: its title's stems, numbers, names and reversal words, its link."""

    stems: tuple[str, ...]  # distinct stems of the content words, in title order
    numbers: frozenset[str]
    names: frozenset[str]  # stems of capitalised words after the first (proper nouns), sentence-case titles only
    reversals: frozenset[str]
    link: str  # canonical_link(link), "" when none


@dataclass(frozen=True)
class Story:
    """A story open to later reports: its id in the store and the keys of the reports it has so far."""

    story_id: int
    keys: tuple[StoryKey, ...]


def story_key(title: str, link: str = "") -> StoryKey:
    """The grouping key of a report with this title and link."""
    title = _OUTLET_SUFFIX.sub("", " ".join(title.split()))
    title = _US.sub(" USA ", title)
    stems: list[str] = []
    numbers: set[str] = set()
    names: set[str] = set()
    reversals: set[str] = set()
    raw_words = title.split()
    capitalised = [word for word in raw_words[1:] if word[:1].isupper()]
    title_case = len(capitalised) > 0.6 * max(len(raw_words) - 1, 1)
    for position, raw in enumerate(raw_words):
        for folded in fold(raw).split():
            word = _NUMBER_WORDS.get(folded, _SYNONYMS.get(folded, folded))
            if word in REVERSALS:
                reversals.add(word)
                continue
            if word in STOP_WORDS or word in ("al", "el") or (len(word) == 1 and not word.isdigit()):
                continue
            stem = word[:STEM_LENGTH]
            stems.append(stem)
            if word.isdigit():
                numbers.add(word)
            elif raw[:1].isupper() and not title_case and (position > 0 or _POSSESSIVE.search(raw)):
                names.add(stem)
    return StoryKey(
        stems=tuple(dict.fromkeys(stems)),
        numbers=frozenset(numbers),
        names=frozenset(names),
        reversals=frozenset(reversals),
        link=canonical_link(link),
    )


def canonical_link(url: str) -> str:
    """`url` reduced to what identifies the article: "" for anything that is not an http(s) URL.

    Scheme and case of the host are ignored; www., m., mobile. and amp. hosts, AMP paths ("/amp", ".amp",
    "amp=1"), trailing slashes, fragments and tracking parameters are dropped; other parameters are sorted.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    segments = [segment for segment in parts.path.split("/") if segment]
    segments = [segment for segment in segments if segment.lower() != "amp"]
    if segments and segments[-1].lower().endswith(".amp"):
        segments[-1] = segments[-1][: -len(".amp")]
    path = "/".join(segments)
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(TRACKING_PREFIXES)
    )
    return f"{host}/{path}" + (f"?{urlencode(query)}" if query else "")


def similarity(a: StoryKey, b: StoryKey) -> float:
    """How alike two reports' titles are, 0-100; 0 when a veto applies (see the module docstring)."""
    if not a.stems or not b.stems:
        return 0.0
    if a.numbers and b.numbers and a.numbers != b.numbers:
        return 0.0
    if a.reversals != b.reversals:
        return 0.0
    stems_a, stems_b = set(a.stems), set(b.stems)
    if a.names - stems_b and b.names - stems_a:  # each names someone or somewhere the other does not
        return 0.0
    shared = len(stems_a & stems_b)
    if shared < MIN_SHARED or shared < MIN_COVERAGE * min(len(stems_a), len(stems_b)):
        return 0.0
    return float(fuzz.token_set_ratio(" ".join(a.stems), " ".join(b.stems)))


def same_story(a: StoryKey, b: StoryKey) -> bool:
    """Whether two reports tell the same story: same canonical link, or titles close enough."""
    if a.link and a.link == b.link:
        return True
    return similarity(a, b) >= TITLE_THRESHOLD


def find_story(key: StoryKey, stories: Iterable[Story]) -> int | None:
    """The id of the open story this report belongs to (the closest one), or None for a new story."""
    best: tuple[float, int] | None = None
    for story in stories:
        for other in story.keys:
            if key.link and key.link == other.link:
                return story.story_id
            score = similarity(key, other)
            if score >= TITLE_THRESHOLD and (best is None or score > best[0]):
                best = (score, story.story_id)
    return best[1] if best else None
