"""Actors and theme terms -> a draft rule file that loads, passes its own examples, and collides with nothing.

The draft has, all ids prefixed with the story's name (`STORY-`), so that it sits beside any other rules:
  - an actor per core name, with its spellings (as found, nicknames, acronyms, derived transliterations,
    Arabic script), and look-alike countries as `exclude` ("Sudani" excludes "Sudan", "Sudanese");
  - an actor per context name (countries with their people, capitals and government; heads of state...);
  - one theme, `STORY-terms`, with the story's own words;
  - `STORY-core`: any core name alerts; `STORY-context`: a context name and a theme word in one sentence.
Examples are sentences of the document the rule fires on (the headline first), checked with the real loader
and matcher on the draft alone, so the file passes `monitor rules check` and `monitor rules test` as written.
Pure: the draft is text; `write_draft` (in seed/__init__.py) saves it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from monitor.match import Matcher
from monitor.normalize import OPTIONAL_ARTICLES, fold
from monitor.rules import COMMON_WORDS, RuleSet, form_problem, rules_from_text, run_examples
from monitor.seed.actors import BROAD_NAME, CONTEXT, CORE, Actor
from monitor.seed.lexicon import ARABIC_COUNTRIES, ARABIC_DEMONYMS, Transliteration, World, commonness, key
from monitor.seed.names import PERSON
from monitor.seed.text import Document
from monitor.seed.themes import ThemeTerm
from monitor.seed.variants import arabic_script, latin_spellings, spellings

DRAFT_HEADER = "# DRAFT: review before use"
DRAFT_SEVERITY = "medium"
MAX_ALIASES = 40
"""Spellings written for one actor at most: found first, then known, then derived."""
MAX_EXAMPLES = 2
"""`match` examples written per rule."""
SURNAME_RARE = 3.0
"""A person's surname alone becomes an alias when it is rarer than this in ordinary text ("Soleimani")."""

PAIR_SENTENCES = 2
"""Two broad actors make a pair rule when the article names them together in at least this many sentences."""
MAX_PAIRS = 6

_ACRONYM = re.compile(r"^(?:[A-Z][A-Z0-9&-]{1,9}|(?:[A-Z]\.){2,4})$")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class DraftTerm:
    """An actor or theme of the draft, as it will be written."""

    id: str
    kind: str  # "actor" or "theme"
    name: str
    forms: tuple[str, ...]  # aliases (actors) or phrases (themes)
    acronyms: tuple[str, ...]
    exclude: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class DraftRule:
    """A rule of the draft, with the document's sentences it fires on (and one it must not fire on)."""

    id: str
    description: str
    any_of: tuple[str, ...]
    all_of: tuple[tuple[str, ...], ...]
    same_sentence: bool
    match: tuple[str, ...]
    no_match: tuple[str, ...]
    comment: str
    similar: str = ""  # a [stories.ID] the item must read close to (the semantic extra)


@dataclass(frozen=True)
class DraftStory:
    """The article itself, for the rule that asks an item to read close to it (needs the semantic extra)."""

    id: str
    name: str
    text: str
    threshold: float


@dataclass(frozen=True)
class SeedDraft:
    """What `seed_document` made of one document: the actors found, the draft's terms and rules, and its text."""

    story: str
    source_name: str
    language: str
    actors: tuple[Actor, ...]  # every actor found, core and context first, with their scope
    themes: tuple[ThemeTerm, ...]
    terms: tuple[DraftTerm, ...]
    rules: tuple[DraftRule, ...]
    text: str  # the rule file
    story_meaning: DraftStory | None = None

    def term(self, term_id: str) -> DraftTerm | None:
        """The draft term with this id."""
        return next((term for term in self.terms if term.id == term_id), None)


def story_slug(name: str) -> str:
    """A story name usable as an id prefix: lower case letters, digits and "-", whole words, at most 24 characters."""
    slug = _SLUG.sub("-", fold(name).encode("ascii", "ignore").decode()).strip("-")
    words: list[str] = []
    for word in slug.split("-"):
        if words and len("-".join([*words, word])) > 24:
            break
        words.append(word[:24])
    return "-".join(words) or "story"


def build_draft(
    document: Document,
    actors: Sequence[Actor],
    themes: Sequence[ThemeTerm],
    *,
    story: str,
    source_name: str,
    world: World,
    table: Transliteration,
    semantic: bool = False,
) -> SeedDraft:
    """The draft's terms and rules, its examples chosen and checked against the draft itself; with `semantic`
    (the semantic extra installed), also the article and a rule for broad actors in items that read close to it."""
    used: set[str] = set()
    terms: list[DraftTerm] = []
    core_ids: list[str] = []
    context_ids: list[str] = []
    for actor in actors:
        if actor.scope not in (CORE, CONTEXT):
            continue
        term = _actor_term(actor, story, used, world, table, document.language)
        if term is None:
            continue
        terms.append(term)
        (core_ids if actor.scope == CORE else context_ids).append(term.id)
    strong_id = weak_id = ""
    strong = [term for term in themes if not term.weak]
    weak = [term for term in themes if term.weak]
    if _theme_phrases(strong):
        strong_id = _unique(f"{story}-terms", used)
        words = ", ".join(term.text for term in strong[:6])
        terms.append(
            DraftTerm(
                strong_id,
                "theme",
                "Story terms",
                _theme_phrases(strong),
                (),
                (),
                f"theme: the story's own words ({words})",
            )
        )
    if _theme_phrases(weak):
        weak_id = _unique(f"{story}-conflict-terms", used)
        words = ", ".join(term.text for term in weak[:6])
        terms.append(
            DraftTerm(
                weak_id,
                "theme",
                "Conflict terms",
                _theme_phrases(weak),
                (),
                (),
                f"theme: words every conflict is told in ({words}): only with two broad actors named together",
            )
        )
    rules: list[DraftRule] = []
    if core_ids:
        rules.append(
            DraftRule(
                id=f"{story}-core",
                description=f"Names at the core of this story (draft from {source_name})",
                any_of=tuple(core_ids),
                all_of=(),
                same_sentence=False,
                match=(),
                no_match=(),
                comment="any core name alerts on its own",
            )
        )
    if context_ids and strong_id:
        rules.append(
            DraftRule(
                id=f"{story}-context",
                description=f"A broad actor and the story's words in one sentence (draft from {source_name})",
                any_of=(),
                all_of=(tuple(context_ids), (strong_id,)),
                same_sentence=True,
                match=(),
                no_match=(),
                comment="a country, leader or world body alerts only with the story's words in the same sentence",
            )
        )
    term_ids = tuple(term_id for term_id in (strong_id, weak_id) if term_id)
    by_name = {term.name: term.id for term in terms if term.kind == "actor"}
    principal = [actor for actor in actors if actor.scope == CONTEXT and actor.name in by_name]
    pairs = [
        (first, second)
        for first, second in itertools.combinations(principal, 2)
        if len(first.sentences & second.sentences) >= PAIR_SENTENCES
        and None not in (_side(first), _side(second))
        and _side(first) != _side(second)
    ]
    for number, (first, second) in enumerate(pairs[:MAX_PAIRS], start=1):
        if not term_ids:
            break
        rules.append(
            DraftRule(
                id=f"{story}-pair-{number}",
                description=f"{first.name} and {second.name} with the story's words (draft from {source_name})",
                any_of=(),
                all_of=((by_name[first.name],), (by_name[second.name],), term_ids),
                same_sentence=True,
                match=(),
                no_match=(),
                comment="two broad actors the article names together, with a story or conflict term, in one sentence",
            )
        )
    meaning = None
    if semantic and context_ids:
        from monitor.semantic import calibrate

        sentences = [sentence.text for sentence in document.sentences]
        article = "\n".join(sentences)
        meaning = DraftStory(f"{story}-story", document.headline or story, article, calibrate(sentences, article))
        rules.append(
            DraftRule(
                id=f"{story}-close",
                description=f"A broad actor in an item that reads close to the article (draft from {source_name})",
                any_of=(),
                all_of=(tuple(context_ids),),
                same_sentence=False,
                match=(),
                no_match=(),
                comment=(
                    f"a broad actor, in an item whose meaning is this close to the article's (threshold "
                    f"{meaning.threshold:.2f}: the 75th percentile of its own sentences' closeness to it)"
                ),
                similar=meaning.id,
            )
        )
    draft = SeedDraft(
        story, source_name, document.language, tuple(actors), tuple(themes), tuple(terms), tuple(rules), "", meaning
    )
    draft = _replace(draft, rules=tuple(_with_examples(draft, document)))
    return _with_text(draft)


def _with_text(draft: SeedDraft) -> SeedDraft:
    return _replace(draft, text=render(draft))


def _replace(draft: SeedDraft, **changes: Any) -> SeedDraft:
    import dataclasses

    return dataclasses.replace(draft, **changes)


# --- terms --------------------------------------------------------------------------------------------------


def _actor_term(
    actor: Actor, story: str, used: set[str], world: World, table: Transliteration, language: str
) -> DraftTerm | None:
    forms: list[str] = []
    acronyms: list[str] = list(actor.acronyms)
    if actor.country and actor.country in world.countries:
        country = world.countries[actor.country]
        candidates = [country.name, *country.aliases, *country.demonyms, *country.places, *actor.surfaces]
        candidates += [
            arabic for arabic, name in {**ARABIC_COUNTRIES, **ARABIC_DEMONYMS}.items() if name == country.name
        ]
    else:
        candidates = [actor.name, *actor.surfaces, *actor.nicknames]
        for surface in list(dict.fromkeys([actor.name, *actor.surfaces])):
            if language == "ar" or re.search(r"[\u0600-\u06FF]", surface):
                candidates += latin_spellings(surface, table)
            else:  # Arabic script only for the full name: "Quds" alone is also Jerusalem
                candidates += spellings(surface, table, arabic=surface == actor.name)
        if actor.kind == PERSON and len(actor.name.split()) >= 2:
            surname = re.sub(r"^(?:al|el)-", "", actor.name.split()[-1], flags=re.IGNORECASE)
            if actor.scope == CONTEXT or (len(surname) >= 5 and commonness(surname) < SURNAME_RARE):
                candidates += [surname, *spellings(surname, table)]
        arabic = arabic_script(actor.name, table)
        if arabic:
            candidates.append(arabic)
    seen: set[str] = set()
    for candidate in candidates:
        written = " ".join(candidate.split())
        if not written:
            continue
        if _ACRONYM.match(written) and not written.isdigit():
            if written not in acronyms:
                acronyms.append(written)
            continue
        match_key = _match_key(written)
        if not match_key or match_key in seen or form_problem(written) is not None:
            continue
        if actor.scope == CORE and len(match_key.split()) == 1 and commonness(match_key) >= BROAD_NAME:
            continue  # a common word alone ("Reapers"?) would fire on ordinary text
        seen.add(match_key)
        forms.append(written)
    acronyms = [acronym for acronym in dict.fromkeys(acronyms) if _acronym_ok(acronym)]
    if not forms and not acronyms:
        return None
    term_id = _unique(f"{story}-{_slug(actor.name)}", used)
    exclude = _look_alikes([actor.name, *actor.surfaces], world) if actor.scope == CORE else ()
    return DraftTerm(
        id=term_id,
        kind="actor",
        name=actor.name,
        forms=tuple(forms[:MAX_ALIASES]),
        acronyms=tuple(acronyms),
        exclude=exclude,
        comment=f"{actor.scope}: {actor.why}",
    )


def _side(actor: Actor) -> str | None:
    """The country (or world body, region) an actor stands for; None for a person, whose country the article may
    not say: a pair needs two known sides."""
    if actor.kind == PERSON:
        return None
    return actor.country or actor.name


def _acronym_ok(acronym: str) -> bool:
    return any(char.isalnum() for char in acronym) and not any(char.isspace() for char in acronym)


def _look_alikes(forms: Sequence[str], world: World) -> tuple[str, ...]:
    """Countries and peoples one edit or two away from a one-word alias ("Sudani" -> "Sudan", "Sudanese")."""
    found: list[str] = []
    singles = {_match_key(form) for form in forms if len(_match_key(form).split()) == 1}
    for country in world.countries.values():
        for other in (country.name, *country.demonyms):
            folded = key(other)
            if " " in folded or not folded:
                continue
            for single in singles:
                distance = Levenshtein.distance(single, folded)
                if (
                    single != folded
                    and single[:1] == folded[:1]
                    and (distance <= 1 or (distance == 2 and min(len(single), len(folded)) >= 7))
                ):
                    found.append(other)
    aliases = {_match_key(form) for form in forms}
    return tuple(other for other in dict.fromkeys(found) if key(other) not in aliases)


def _theme_phrases(themes: Sequence[ThemeTerm]) -> tuple[str, ...]:
    phrases: list[str] = []
    seen: set[str] = set()
    for term in themes:
        for form in term.forms:
            match_key = _match_key(form)
            if not match_key or match_key in seen or form_problem(form) is not None:
                continue
            if len(match_key.split()) == 1 and match_key in COMMON_WORDS:
                continue
            seen.add(match_key)
            phrases.append(form)
    return tuple(phrases)


def _match_key(form: str) -> str:
    return " ".join(word for word in fold(form).split() if word not in OPTIONAL_ARTICLES)


def _slug(name: str) -> str:
    slug = _SLUG.sub("-", fold(name).encode("ascii", "ignore").decode()).strip("-")
    return slug[:40].rstrip("-") or "name"


def _unique(base: str, used: set[str]) -> str:
    candidate = base
    number = 2
    while candidate in used:
        candidate = f"{base}-{number}"
        number += 1
    used.add(candidate)
    return candidate


# --- examples -----------------------------------------------------------------------------------------------


def _with_examples(draft: SeedDraft, document: Document) -> list[DraftRule]:
    """Each rule with the document's sentences it fires on as `match`, checked on the draft alone."""
    ruleset = _load(render(draft))
    if ruleset is None:
        return list(draft.rules)
    matcher = Matcher(ruleset)
    fired: dict[str, list[str]] = {rule.id: [] for rule in draft.rules}
    silent: dict[str, list[str]] = {rule.id: [] for rule in draft.rules}
    for sentence in document.sentences:
        text = sentence.text
        if len(text) > 300:
            continue
        names = {found.rule for found in matcher.match_text(text)}
        for rule in draft.rules:
            (fired if rule.id in names else silent)[rule.id].append(text)
    rules = []
    for rule in draft.rules:
        match = tuple(dict.fromkeys(fired[rule.id]))[:MAX_EXAMPLES]
        no_match: tuple[str, ...] = ()
        if rule.all_of:
            context_terms = set(rule.all_of[0])
            for text in silent[rule.id]:
                if _names_a_term(text, context_terms, draft):
                    no_match = (text,)
                    break
        rules.append(
            DraftRule(
                rule.id,
                rule.description,
                rule.any_of,
                rule.all_of,
                rule.same_sentence,
                match,
                no_match,
                rule.comment,
                rule.similar,
            )
        )
    checked = _replace(draft, rules=tuple(rules))
    ruleset = _load(render(checked))
    if ruleset is None:
        return list(draft.rules)
    failed = {(result.rule, result.text) for result in run_examples(ruleset, Matcher(ruleset)) if not result.passed}
    return [
        DraftRule(
            rule.id,
            rule.description,
            rule.any_of,
            rule.all_of,
            rule.same_sentence,
            tuple(text for text in rule.match if (rule.id, text) not in failed),
            tuple(text for text in rule.no_match if (rule.id, text) not in failed),
            rule.comment,
            rule.similar,
        )
        for rule in rules
    ]


def _names_a_term(text: str, term_ids: set[str], draft: SeedDraft) -> bool:
    padded = " " + _match_key(text) + " "
    for term in draft.terms:
        if term.id in term_ids and any(" " + _match_key(form) + " " in padded for form in term.forms):
            return True
    return False


def _load(text: str) -> RuleSet | None:
    ruleset, errors = rules_from_text(text, Path("draft.toml"))
    return ruleset if not errors else None


# --- rendering ----------------------------------------------------------------------------------------------


def render(draft: SeedDraft) -> str:
    """The draft as a rule file (docs/rules.md), marked as a draft to review."""
    core = sum(1 for actor in draft.actors if actor.scope == CORE)
    context = sum(1 for actor in draft.actors if actor.scope == CONTEXT)
    lines = [
        DRAFT_HEADER,
        f"# Seeded by `monitor seed` from {draft.source_name}: {core} core name(s), {context} context name(s), "
        f"{len(draft.themes)} story term(s).",
        "# Core names alert on their own; context names (countries, leaders, world bodies) only together with",
        "# a story term in the same sentence. Review: delete what is not worth an alert, check the spellings,",
        "# run `monitor rules check --history 30d` on this directory to see what it would have alerted on,",
        "# then save it under a name without '.draft'. Ids start with the story's name, so it collides with",
        "# no other rule file.",
        "",
    ]
    if not draft.terms:
        lines.append("# No organisation, person, place or story term was found: nothing to watch yet.")
    if draft.story_meaning is not None:
        meaning = draft.story_meaning
        lines += [
            '# the article itself: items that read close to it (the semantic extra, docs/rules.md "Stories")',
            f"[stories.{meaning.id}]",
            f"name = {_toml_string(meaning.name)}",
            f"threshold = {meaning.threshold:.2f}",
            'text = """',
            meaning.text.replace("\\", "\\\\").replace('"""', '""\\"'),
            '"""',
            "",
        ]
    for term in draft.terms:
        lines.append(f"# {term.comment}")
        section = "actors" if term.kind == "actor" else "themes"
        lines.append(f"[{section}.{term.id}]")
        lines.append(f"name = {_toml_string(term.name)}")
        lines.append(f"{'aliases' if term.kind == 'actor' else 'phrases'} = {_toml_list(term.forms)}")
        if term.acronyms:
            lines.append(f"acronyms = {_toml_list(term.acronyms)}")
        if term.exclude:
            lines.append(f"exclude = {_toml_list(term.exclude)}")
        lines.append("")
    for rule in draft.rules:
        lines.append(f"# {rule.comment}")
        lines.append(f"[rules.{rule.id}]")
        lines.append(f"description = {_toml_string(rule.description)}")
        lines.append(f'severity = "{DRAFT_SEVERITY}"')
        if rule.any_of:
            lines.append(f"any = {_toml_list(rule.any_of)}")
        if rule.all_of:
            lines.append("all = [" + ", ".join(_toml_list(group) for group in rule.all_of) + "]")
        if rule.same_sentence:
            lines.append("same_sentence = true")
        if rule.similar:
            lines.append(f"similar = {_toml_string(rule.similar)}")
        if rule.match or rule.no_match:
            lines.append("")
            lines.append(f"[rules.{rule.id}.examples]")
            if rule.match:
                lines.append(f"match = {_toml_list(rule.match)}")
            if rule.no_match:
                lines.append(f"no_match = {_toml_list(rule.no_match)}")
        lines.append("")
    left_out = [actor for actor in draft.actors if actor.scope not in (CORE, CONTEXT) and not actor.ordinary]
    if left_out:
        lines.append("# Left out (add one as an actor if it matters):")
        for actor in left_out[:40]:
            lines.append(f"#   {actor.name}: {actor.why}")
    return "\n".join(lines).rstrip() + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are all valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(value) for value in values) + "]"
