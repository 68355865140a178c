"""Other spellings of a name the seeder has found: transliteration variants and the Arabic script.

For a romanised Arabic, Persian or Turkish name the press spells many ways (Hezbollah / Hizballah /
Hizbullah, Qaddafi / Gaddafi / Kadhafi, al-Assad / el-Assad / Assad), `spellings(name)` gives:
  - the words seed/data/translit.toml knows, in every spelling it lists ("Kataib" -> "Kataeb", "Kata'ib");
  - for words it does not know, one alternation of seed/data/translit.toml's `rules` at a time (e/i, o/u,
    q/k, doubled letters, -iya/-iyah...), for words of five letters or more that are rare in English (an
    English word such as "Forces" is not respelled);
  - the name without its articles ("al-Assad" -> "Assad") and with "el-" for "al-";
  - the Arabic script when every word of the name is known ("Kataib Hezbollah" -> "كتائب حزب الله").
`latin_spellings(arabic)` goes the other way for a name written in Arabic. Variants that fold to the same
words are kept once; at most MAX_SPELLINGS are returned, the known ones first. Pure.
"""

from __future__ import annotations

import re

from monitor.normalize import OPTIONAL_ARTICLES, fold
from monitor.seed.lexicon import Transliteration, commonness

MAX_SPELLINGS = 16
"""Spellings derived from one name at most (the matcher's fuzzy stage covers most single-letter slips)."""
ENGLISH = 3.5
"""Zipf value from which a word is ordinary English and is not respelled ("Forces", "Guard", "Syria")."""

_INITIAL = frozenset({"q", "k", "g", "gh", "kh", "e", "i", "o", "u"})
"""Alternations that may change a name's first letter (Qaddafi/Gaddafi/Kadhafi, Idlib/Edlib, Osama/Usama)."""

_ARTICLE = re.compile(r"^(al|el|Al|El|ad|an|ar|as|ash|at|az|adh)-(?=\w)")


def spellings(name: str, table: Transliteration, *, arabic: bool = True) -> list[str]:
    """Other ways the press writes `name` (not `name` itself), most likely first; `arabic`: with its Arabic script.

    A respelling the matcher's fuzzy stage finds anyway (same first letter, within the edits docs/rules.md
    allows for the word's length) is left out: it would only lengthen the draft.
    """
    words = name.split()
    if not words:
        return []
    options: list[list[str]] = []
    for word in words:
        article_match = _ARTICLE.match(word)
        article = article_match.group(0) if article_match else ""
        bare = word[len(article) :]
        known = table.words.get(fold(bare))
        forms = [bare]
        if known is not None:
            forms += list(known[1])
        elif len(bare) >= 4 and bare.isalpha() and commonness(bare) < ENGLISH:
            forms += [form for form in _alternations(bare, table) if not _fuzzy_reach(bare, form)]
        options.append([article + form for form in _unique(forms)])
    found: list[str] = []
    base = [option[0] for option in options]
    for position, option in enumerate(options):
        for form in option[1:]:
            found.append(" ".join([*base[:position], form, *base[position + 1 :]]))
    without_articles = " ".join(_ARTICLE.sub("", word) for word in words)
    if without_articles != name and fold(without_articles).split():
        found.insert(0, without_articles)
    if any(word.lower().startswith("al-") for word in words):
        found.append(" ".join("el-" + word[3:] if word.lower().startswith("al-") else word for word in words))
    script = arabic_script(name, table) if arabic else None
    if script:
        found.insert(0, script)
    seen = {_match_form(name)}
    result = []
    for form in found:
        folded = _match_form(form)
        if folded and folded not in seen:
            seen.add(folded)
            result.append(form)
    return result[:MAX_SPELLINGS]


def arabic_script(name: str, table: Transliteration) -> str | None:
    """The Arabic script of `name` when every word of it is in the table, else None."""
    parts = []
    words = [word for word in fold(name).split() if word not in OPTIONAL_ARTICLES]
    if not words:
        return None
    for word in words:
        known = table.words.get(word)
        if known is None:
            return None
        parts.append(known[0])
    return " ".join(parts)


def latin_spellings(arabic: str, table: Transliteration) -> list[str]:
    """Latin spellings of an Arabic-script name when every word of it is in the table (else none)."""
    words = fold(arabic).split()
    latin = []
    lookup = table.latin_of_arabic
    for word in words:
        found = lookup.get(word) or (lookup.get(word[2:]) if word.startswith("ال") else None)
        if found is None:
            return []
        latin.append(found)
    name = " ".join(word.capitalize() for word in latin)
    return [name, *spellings(name, table)][:MAX_SPELLINGS]


def _fuzzy_reach(word: str, other: str) -> bool:
    """Whether the matcher's strict fuzziness already matches `other` for `word` (match.edit_budget)."""
    from rapidfuzz.distance import OSA

    from monitor.match import edit_budget

    a, b = fold(word), fold(other)
    if a[:1] != b[:1]:
        return False
    return OSA.distance(a, b) <= edit_budget(min(len(a), len(b)), 1)


def _alternations(word: str, table: Transliteration) -> list[str]:
    """`word` with one alternation applied at one place (the first letter is kept: readers keep it too)."""
    lower = word.lower()
    found = []
    for left, right in table.pairs:
        start = lower.find(left, 0 if left in _INITIAL else 1)
        while start >= 0:
            candidate = lower[:start] + right + lower[start + len(left) :]
            found.append(_like(word, candidate))
            start = lower.find(left, start + 1)
    return found


def _like(original: str, lower: str) -> str:
    """`lower` with the capitalisation of `original` (first letter, or all capitals)."""
    if original.isupper():
        return lower.upper()
    return lower[:1].upper() + lower[1:] if original[:1].isupper() else lower


def _unique(forms: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for form in forms:
        folded = fold(form)
        if folded not in seen:
            seen.add(folded)
            kept.append(form)
    return kept


def _match_form(form: str) -> str:
    return " ".join(word for word in fold(form).split() if word not in OPTIONAL_ARTICLES)
