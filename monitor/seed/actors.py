"""Name mentions -> the story's actors, each with its scope: core, context, or left out.

Mentions of one actor are gathered: the same folded name, a country and its people, capital and government
("Turkish", "Ankara" -> Turkey), a defined acronym ("IRGC"), a nickname the document gives, a person's surname
on second mention ("Erdogan", "Mr Assad"). Then every actor gets a scope:
  - core: a name specific to this story, an alert on its own: mentioned prominently enough (SALIENT, the
    headline and lede weighing more) and rare in ordinary text (under BROAD_PERSON / BROAD_NAME);
  - context: a country, region or world body, a head of state or minister, a famous name: broad, so it
    alerts only together with the story's theme words;
  - minor (left out, listed in the draft's comments): people named in passing (a spokesman, a relative,
    "Jane Doe, 60,"), names mentioned once that are not places, generic bodies ("the Foreign Ministry").
Pure: mentions in, actors out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.normalize import fold
from monitor.seed.lexicon import World, commonness, key
from monitor.seed.names import MINOR, ORGANISATION, PERSON, PLACE, STATE, Mention

CORE = "core"
CONTEXT = "context"
LEFT_OUT = "left out"

BROAD_PERSON = 3.25
"""Zipf value of a surname from which a person is famous enough to be in many stories (Trump, Erdogan)."""
BROAD_NAME = 3.95
"""Zipf value of a name from which an organisation or place is in many stories (Pentagon, Gaza Strip)."""
GENERIC_NAME = 4.2
"""An organisation whose name is this common is generic ("Foreign Ministry" 4.5, "Oxford University" 4.3)."""
COMMON_WORD = 4.5
"""A lone capitalised word of unknown kind this common is an ordinary word ("Great" in "God is Great")."""
SALIENT = 2.0
"""Weighted mentions a person or organisation needs to be core (two sentences, or the lede)."""
CORE_SHARE = 0.25
"""A person or organisation is core only when named at least this share as much as the most named one."""
CONTEXT_SHARE = 0.25
"""A broad actor is context only when named at least this share as much as the most named broad actor."""
CONTEXT_MIN = 2.0
"""...and in sentences weighing at least this much: Turkey and Russia in an article about Idlib, not Pakistan."""
UNHEARD_OF = 1.0
"""A group this rare in ordinary text is core even when named once ("al-Nujaba" in a list of militias)."""
DEFINED_BONUS = 1.0
"""Salience added to a name whose acronym or nickname the article defines ("known as ...", "(IRGC)")."""
MAX_CORE = 24
MAX_CONTEXT = 14


@dataclass
class Actor:
    """An organisation, person or place of the story, with what the document says about it."""

    name: str
    kind: str | None
    scope: str  # CORE, CONTEXT or LEFT_OUT
    why: str  # one line for the draft's comments
    surfaces: list[str]  # as the document writes it (best first)
    acronyms: list[str]
    nicknames: list[str]
    sentences: set[int]
    salience: float
    commonness: float
    first: int  # index of the first sentence naming it
    country: str | None = None
    role: str | None = None

    @property
    def ordinary(self) -> bool:
        """Left out as an ordinary capitalised word, not worth listing for review."""
        return self.scope == LEFT_OUT and self.why.startswith("an ordinary word")


@dataclass
class _Group:
    mentions: list[Mention] = field(default_factory=list)
    country: str | None = None

    def add(self, mention: Mention) -> None:
        self.mentions.append(mention)


def gather(mentions: Sequence[Mention], world: World, language: str = "en") -> list[Actor]:
    """The actors of the document, core first, then context, then those left out; each by salience."""
    groups: dict[str, _Group] = {}
    for mention in mentions:
        group_key = f"country:{mention.country}" if mention.country else key(mention.text)
        if not group_key:
            continue
        group = groups.setdefault(group_key, _Group(country=mention.country))
        group.add(mention)
    _merge_defined(groups)
    _merge_surnames(groups)
    actors = [_actor(group, world, language) for group in groups.values()]
    order = {CORE: 0, CONTEXT: 1, LEFT_OUT: 2}
    actors.sort(key=lambda actor: (order[actor.scope], -actor.salience, actor.first, actor.name))
    core = [actor for actor in actors if actor.scope == CORE]
    core_floor = CORE_SHARE * max((actor.salience for actor in core), default=0.0)
    for number, extra in enumerate(core):
        if number >= MAX_CORE or (extra.kind not in (PLACE, ORGANISATION) and extra.salience < core_floor):
            extra.scope, extra.why = LEFT_OUT, extra.why + ": named far less than the story's main names"
    context = [actor for actor in actors if actor.scope == CONTEXT]
    floor = max(CONTEXT_MIN, CONTEXT_SHARE * max((actor.salience for actor in context), default=0.0))
    for number, extra in enumerate(context):
        if number >= MAX_CONTEXT or extra.salience < floor:
            extra.scope, extra.why = LEFT_OUT, extra.why.replace(": context only", "") + ": not a principal actor here"
    actors.sort(key=lambda actor: (order[actor.scope], -actor.salience, actor.first, actor.name))
    return actors


def _merge_defined(groups: dict[str, _Group]) -> None:
    """Acronyms and nicknames the document defines join the group of the name they were defined for."""
    for group_key, group in list(groups.items()):
        if group_key not in groups:
            continue
        for mention in group.mentions:
            for other in (*mention.acronyms, *mention.aliases):
                other_key = key(other)
                if other_key and other_key != group_key and other_key in groups and not groups[other_key].country:
                    group.mentions.extend(groups.pop(other_key).mentions)


def _merge_surnames(groups: dict[str, _Group]) -> None:
    """A name written inside exactly one longer name is that name: a surname ("Erdogan" in "Recep Tayyip
    Erdogan"), a short form ("Quds" in "Quds Force", "Gaza" in "Gaza Strip", "Revolutionary Guard" in "Islamic
    Revolutionary Guard Corps"). Shortest names first, so a chain of names ends in the longest."""
    for group_key in sorted(groups, key=lambda k: (len(k.split()), k)):
        if group_key.startswith("country:") or group_key not in groups:
            continue
        words = group_key.split()
        owners = [
            other
            for other in groups
            if other != group_key
            and not other.startswith("country:")
            and len(other.split()) > len(words)
            and _contains(other.split(), words)
            and (len(words) > 1 or words[0] in (other.split()[0], other.split()[-1]))
        ]
        if len(owners) == 1:
            groups[owners[0]].mentions.extend(groups.pop(group_key).mentions)


def _contains(longer: list[str], shorter: list[str]) -> bool:
    size = len(shorter)
    return any(longer[start : start + size] == shorter for start in range(len(longer) - size + 1))


def _kind(group: _Group) -> str | None:
    kinds = [mention.kind for mention in group.mentions if mention.kind]
    if not kinds:
        return None
    if PLACE in kinds and group.country:
        return PLACE
    return max(set(kinds), key=lambda kind: (kinds.count(kind), kind == PERSON))


def _actor(group: _Group, world: World, language: str) -> Actor:
    mentions = group.mentions
    kind = PLACE if group.country else _kind(group)
    surfaces = _surfaces(mentions)
    name = group.country or _best_name(surfaces, kind)
    by_sentence: dict[int, float] = defaultdict(float)
    for mention in mentions:
        by_sentence[mention.sentence] = max(by_sentence[mention.sentence], mention.weight)
    salience = sum(by_sentence.values())
    if any(mention.aliases or mention.acronyms for mention in mentions):
        salience += DEFINED_BONUS  # the article took the trouble to say what else it is called
    roles = [mention.role for mention in mentions if mention.role]
    role = STATE if STATE in roles else MINOR if MINOR in roles else None
    acronyms = list(dict.fromkeys(a for mention in mentions for a in mention.acronyms))
    nicknames = list(dict.fromkeys(a for mention in mentions for a in mention.aliases))
    # an actor is as broad as the name the article mostly calls it by ("the Revolutionary Guard" makes the IRGC
    # broad; "UNRWA" keeps the UN agency specific however long its full name)
    usual = _usual_name(mentions) or name
    if kind == PERSON or (kind is None and role is not None):
        zipf = commonness(_surname(usual), language)
    else:
        zipf = commonness(usual, language)
    scope, why = _scope(name, kind, role, zipf, salience, len(by_sentence), group, world, language)
    return Actor(
        name=name,
        kind=kind,
        scope=scope,
        why=why,
        surfaces=surfaces,
        acronyms=acronyms,
        nicknames=nicknames,
        sentences=set(by_sentence),
        salience=salience,
        commonness=zipf,
        first=min(by_sentence),
        country=group.country,
        role=role,
    )


def _scope(
    name: str,
    kind: str | None,
    role: str | None,
    zipf: float,
    salience: float,
    sentences: int,
    group: _Group,
    world: World,
    language: str,
) -> tuple[str, str]:
    times = f"{sentences} sentence{'s' if sentences != 1 else ''}"
    if group.country:
        return CONTEXT, f"a country ({times}): context only"
    if world.is_region(name) or world.is_body(name):
        return CONTEXT, f"a region or world body ({times}): context only"
    if role == STATE and kind in (PERSON, None):
        return CONTEXT, f"a head of state, minister, legislator or official ({times}): context only"
    if role == MINOR and kind in (PERSON, None):
        return LEFT_OUT, f"named in passing (a spokesman, relative or witness; {times})"
    if kind == ORGANISATION and language == "en" and _generic(name):
        return LEFT_OUT, f"a generic body ({times})"
    if kind is None and len(name.split()) == 1 and zipf >= COMMON_WORD:
        return LEFT_OUT, f"an ordinary word, capitalised ({times})"
    broad = BROAD_PERSON if kind == PERSON else BROAD_NAME
    if zipf >= broad:
        return CONTEXT, f"common in ordinary text (Zipf {zipf:.1f}; {times}): context only"
    if kind == PLACE and salience >= SALIENT:
        return CORE, f"a place of this story (Zipf {zipf:.1f}; {times})"
    if kind == PLACE:
        return CONTEXT, f"a place named once (Zipf {zipf:.1f}): context only"
    if salience >= SALIENT:
        return CORE, f"{kind or 'name'} central to this story (Zipf {zipf:.1f}; {times}, weight {salience:.1f})"
    if kind == ORGANISATION and zipf < UNHEARD_OF:
        return CORE, f"a group unknown to ordinary text (Zipf {zipf:.1f}; {times})"
    return LEFT_OUT, f"{kind or 'name'} named once ({times})"


def _generic(name: str) -> bool:
    """An institution named by common words ("Foreign Ministry", "Oxford University", "Medical Center")."""
    return commonness(name) >= GENERIC_NAME


def _surfaces(mentions: Sequence[Mention]) -> list[str]:
    seen: dict[str, str] = {}
    counts: dict[str, int] = defaultdict(int)
    for mention in mentions:
        folded = fold(mention.text)
        counts[folded] += 1
        seen.setdefault(folded, mention.text)
    return [seen[folded] for folded in sorted(seen, key=lambda f: (-len(f.split()), -counts[f], f))]


def _usual_name(mentions: Sequence[Mention]) -> str | None:
    """The spelling used in most sentences (ties: the more common one, which says more about its breadth)."""
    counts: dict[str, set[int]] = defaultdict(set)
    written: dict[str, str] = {}
    for mention in mentions:
        folded = fold(mention.text)
        counts[folded].add(mention.sentence)
        written.setdefault(folded, mention.text)
    if not counts:
        return None
    best = max(counts, key=lambda folded: (len(counts[folded]), commonness(written[folded])))
    return written[best]


def _best_name(surfaces: Sequence[str], kind: str | None) -> str:
    """The fullest spelling ("Recep Tayyip Erdogan" over "Erdogan"), written as the document writes it."""
    del kind
    return max(surfaces, key=lambda surface: (len(surface.split()), len(surface))) if surfaces else ""


def _surname(name: str) -> str:
    words = [word for word in re.split(r"\s+", name) if word]
    if not words:
        return name
    last = words[-1]
    return re.sub(r"^(?:al|el|Al|El)-", "", last)
