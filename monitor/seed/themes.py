"""The words a story is told in: the document's own vocabulary that ordinary text rarely uses.

A word (or a pair of words, "death toll", "drone strike") is a theme term when the document uses it more than
once, or in its headline, and it is uncommon in ordinary text: its score is the weighted count of sentences
using it (headline 3, lede 2, body 1) times how specific it is (SPECIFIC_BELOW - its Zipf value). The words of
names, stopwords and reporting verbs are left out. Each term is written with the inflections ordinary text uses
("hostage" -> "hostages"; "rescue" -> "rescued", "rescuers"), found in wordfreq's list. For Arabic documents
the words are taken without their leading conjunctions and prepositions. Pure.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.normalize import fold
from monitor.seed.lexicon import World, commonness, thesaurus
from monitor.seed.names import AR_STOPWORDS, arabic_vocabulary, arabic_words
from monitor.seed.text import Document, Sentence

SPECIFIC_BELOW = 4.2
"""Words at or above this Zipf value (said, people, war, injured, province, year) say nothing about one story."""
SPECIFIC_BELOW_AR = 4.4
"""The same for Arabic (wordfreq's Arabic lists are smaller, so its Zipf values run lower for news words)."""
PHRASE_WORD_LIMIT = 5.5
"""A word pair with a word this common ("said the", "people were") is no phrase of the story."""
MAX_TERMS = 14
"""Theme terms kept for a draft."""
MIN_WEIGHT = 2.0
"""A term must appear in sentences weighing at least this much (two body sentences, or the headline)."""
MIN_WEIGHT_UNKNOWN = 3.0
MIN_FORM = 2.5
"""A singular or plural is added only when ordinary text uses it at least this much (Zipf)."""
"""...at least this much when it is not an event word of seed/data/thesaurus.toml ("overhead", "briefed")."""

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_SUFFIXES = ("ings", "ing", "ers", "er", "ies", "es", "ed", "s")


@dataclass(frozen=True)
class ThemeTerm:
    """A word or pair of words the story is told in, with the forms to match and the sentence it was found in."""

    text: str  # the form the document uses most
    forms: tuple[str, ...]  # every form to match: the document's and the usual inflections
    weight: float  # weighted count of sentences using it
    commonness: float  # Zipf value of `text`
    sentence: str
    specificity: float  # how much rarer than SPECIFIC_BELOW it is (more says more about the story)
    weak: bool = False  # a word every conflict is told in (seed/data/thesaurus.toml): tells no story apart alone


def theme_terms(document: Document, name_words: frozenset[str], world: World) -> list[ThemeTerm]:
    """The document's most story-specific words and word pairs, best first (at most MAX_TERMS)."""
    language = document.language
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # stem -> surface -> weight
    first_sentence: dict[str, str] = {}
    seen_in: dict[str, set[int]] = defaultdict(set)
    known = arabic_vocabulary(document) if language == "ar" else frozenset()
    for sentence in document.sentences:
        words = _words(sentence, language, name_words, world, known)
        grams: list[tuple[str, ...]] = [(word,) for word in words if word]
        grams += [(first, second) for first, second in itertools.pairwise(words) if first and second]
        for gram in grams:
            surface = " ".join(gram)
            stem = " ".join(_stem(word) for word in gram)
            if sentence.index in seen_in[stem + "\x00" + surface]:
                continue
            seen_in[stem + "\x00" + surface].add(sentence.index)
            counts[stem][surface] += sentence.weight
            first_sentence.setdefault(stem, sentence.text)
    scored: list[ThemeTerm] = []
    groups = thesaurus()
    for stem, surfaces in counts.items():
        weight = max(surfaces.values()) if " " in stem else sum(surfaces.values())
        sentences = len({index for surface in surfaces for index in seen_in[stem + "\x00" + surface]})
        event_word = any(fold(surface) in groups for surface in surfaces)
        if weight < MIN_WEIGHT or (" " in stem and sentences < 2) or (not event_word and weight < MIN_WEIGHT_UNKNOWN):
            continue
        text = max(surfaces, key=lambda surface: (surfaces[surface], -len(surface)))
        zipf = commonness(text, language)
        if zipf >= (SPECIFIC_BELOW if language == "en" else SPECIFIC_BELOW_AR) or (zipf == 0.0 and language == "en"):
            continue  # too common to tell a story apart, or not a word at all (a typo, a number)
        specificity = (SPECIFIC_BELOW if language == "en" else SPECIFIC_BELOW_AR) - zipf
        if " " in stem:
            parts = text.split()
            if any(commonness(part, language) >= PHRASE_WORD_LIMIT for part in parts):
                continue
            specificity += 0.5  # a phrase says more than either word
        forms = _forms(text, surfaces, language)
        group = next((groups[fold(form)] for form in forms if fold(form) in groups), None)
        forms = _with_synonyms(forms, language)
        # A word not known as distinctive counts only with two broad actors; a phrase the article repeats
        # ("mass graves") is distinctive enough alone.
        weak = group.weak if group is not None else " " not in stem
        scored.append(ThemeTerm(text, forms, weight, zipf, first_sentence[stem], specificity, weak))
    scored.sort(key=lambda term: (-_score(term), term.text))
    kept: list[ThemeTerm] = []
    covered: set[str] = set()
    for term in scored:
        folded = {fold(form) for form in term.forms}
        if folded <= covered:
            continue
        kept.append(term)
        covered |= folded
        if len(kept) >= MAX_TERMS:
            break
    return kept


def _score(term: ThemeTerm) -> float:
    """How much a term tells this story apart: how much the document uses it, more when it is rarer."""
    return term.weight * term.specificity


def _words(
    sentence: Sentence, language: str, name_words: frozenset[str], world: World, known: frozenset[str]
) -> list[str]:
    if language == "ar":
        stop = {fold(word) for word in AR_STOPWORDS}
        return [
            word if len(word) >= 3 and word not in name_words and word not in stop else ""
            for word in arabic_words(sentence.text, known)
        ]
    words = []
    for number, found in enumerate(_TOKEN.finditer(sentence.text.replace("’", "'"))):
        raw = found.group()
        capitalised = raw[0].isupper() and (number > 0 or sentence.title_case)
        word = raw.lower()
        word = word[:-2] if word.endswith("'s") else word
        if (
            capitalised
            or len(word) < 4
            or word in world.theme_stopwords
            or word in world.stopwords
            or fold(word) in name_words
            or world.country_of(word) is not None
        ):
            words.append("")  # a gap: pairs do not span it (names are not theme words)
            continue
        words.append(word)
    return words  # "" marks a skipped word: pairs never join the words it stood between


def _stem(word: str) -> str:
    if not word:
        return word
    if word.startswith("ال") and len(word) >= 5:
        return word[2:]  # the Arabic article: "الفيضانات" and "فيضانات" are one term
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _forms(text: str, surfaces: dict[str, float], language: str) -> tuple[str, ...]:
    """The document's forms of a term and, for an English single word, its usual inflections."""
    forms = list(dict.fromkeys(sorted(surfaces, key=lambda s: -surfaces[s])))
    if language == "en":
        *head, last = text.split()
        for candidate in _number_forms(last):
            phrase = " ".join([*head, candidate])
            if phrase not in forms and commonness(candidate) >= MIN_FORM:
                forms.append(phrase)
    return tuple(forms[:8])


def _with_synonyms(forms: tuple[str, ...], language: str) -> tuple[str, ...]:
    """The forms and the words the news uses for the same thing (seed/data/thesaurus.toml), where those are no
    more common than a story term may be ("quake" brings "earthquake", not "killed")."""
    groups = thesaurus()
    extra: list[str] = []
    for form in forms:
        group = groups.get(fold(form))
        for word in group.words if group else ():
            limit = SPECIFIC_BELOW if language == "en" else SPECIFIC_BELOW_AR
            if word not in forms and word not in extra and commonness(word, language) < limit:
                extra.append(word)
    return forms + tuple(extra)


def _number_forms(word: str) -> Iterable[str]:
    """The singular and plural of a noun ("hostage" / "hostages", "casualty" / "casualties")."""
    if word.endswith("ies"):
        yield word[:-3] + "y"
    elif word.endswith(("ses", "xes", "ches", "shes")):
        yield word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        yield word[:-1]
    elif word.endswith("y") and word[-2:-1] not in "aeiou":
        yield word[:-1] + "ies"
    elif word.endswith(("s", "x", "ch", "sh")):
        yield word + "es"
    else:
        yield word + "s"
