"""What the seeder knows before it reads a document: world knowledge and how common a word is.

Two kinds of knowledge, neither about any one story:
  - `World` (seed/data/world.toml): countries with their demonyms, capitals and government metonyms, regions,
    world bodies, news outlets, the titles that introduce a head of state or a passer-by, and the capitalised
    words that never start a name;
  - `Transliteration` (seed/data/translit.toml): the Arabic script of common name words and the spelling
    alternations of romanised Arabic, Persian and Turkish;
  - `commonness(phrase, language)`: how often a word or phrase occurs in ordinary text, as a Zipf value
    (wordfreq: 0 never seen, 3 once per million words, 6 once per thousand). A name as common as "Trump" or
    "Washington" says little about one story; "Soleimani" or "Idlib" says a lot.

Reads the package's own data files once (cached); no other I/O.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from monitor.normalize import OPTIONAL_ARTICLES, fold

ARABIC_COUNTRIES = {
    "العراق": "Iraq",
    "إيران": "Iran",
    "ايران": "Iran",
    "سوريا": "Syria",
    "سورية": "Syria",
    "تركيا": "Turkey",
    "لبنان": "Lebanon",
    "إسرائيل": "Israel",
    "اسرائيل": "Israel",
    "فلسطين": "Palestine",
    "الأردن": "Jordan",
    "مصر": "Egypt",
    "السعودية": "Saudi Arabia",
    "اليمن": "Yemen",
    "قطر": "Qatar",
    "الكويت": "Kuwait",
    "الإمارات": "United Arab Emirates",
    "البحرين": "Bahrain",
    "عمان": "Oman",
    "ليبيا": "Libya",
    "السودان": "Sudan",
    "تونس": "Tunisia",
    "الجزائر": "Algeria",
    "المغرب": "Morocco",
    "روسيا": "Russia",
    "الصين": "China",
    "فرنسا": "France",
    "بريطانيا": "United Kingdom",
    "ألمانيا": "Germany",
    "أمريكا": "United States",
    "أميركا": "United States",
    "الولايات المتحدة": "United States",
    "واشنطن": "United States",
    "طهران": "Iran",
    "بغداد": "Iraq",
    "دمشق": "Syria",
    "أنقرة": "Turkey",
    "بيروت": "Lebanon",
    "موسكو": "Russia",
    "القاهرة": "Egypt",
    "الرياض": "Saudi Arabia",
    "الدوحة": "Qatar",
    "الأمم المتحدة": "United Nations",
    "مجلس الأمن": "United Nations",
}
"""Arabic names of the countries, capitals and bodies most often named in Arabic news -> the English name."""

ARABIC_DEMONYMS = {
    "العراقي": "Iraq",
    "العراقية": "Iraq",
    "الإيراني": "Iran",
    "الإيرانية": "Iran",
    "السوري": "Syria",
    "السورية": "Syria",
    "التركي": "Turkey",
    "التركية": "Turkey",
    "اللبناني": "Lebanon",
    "اللبنانية": "Lebanon",
    "الإسرائيلي": "Israel",
    "الإسرائيلية": "Israel",
    "الفلسطيني": "Palestine",
    "الفلسطينية": "Palestine",
    "الأمريكي": "United States",
    "الأمريكية": "United States",
    "الأميركي": "United States",
    "الأميركية": "United States",
    "الروسي": "Russia",
    "الروسية": "Russia",
    "المصري": "Egypt",
    "المصرية": "Egypt",
    "القطري": "Qatar",
    "القطرية": "Qatar",
}
"""Arabic adjectives of nationality (masculine and feminine) -> the English country name."""


@dataclass(frozen=True)
class Country:
    """A country as the press names it: its name, other names, demonyms and its places (capital, metonyms)."""

    name: str
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...]
    places: tuple[str, ...]


class World:
    """Lookups in seed/data/world.toml, all by folded form (`fold`, articles dropped)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.countries: dict[str, Country] = {}
        self._country_of: dict[str, str] = {}  # folded name/alias/demonym/place -> country name
        for name, body in data["countries"].items():
            country = Country(
                name=name,
                aliases=tuple(body.get("aliases", ())),
                demonyms=tuple(body.get("demonyms", ())),
                places=tuple(body.get("places", ())),
            )
            self.countries[name] = country
            for form in (name, *country.aliases, *country.demonyms, *country.places):
                self._country_of.setdefault(key(form), name)
        self._demonyms = {key(d): name for name, c in self.countries.items() for d in c.demonyms}
        self._regions = {key(name) for name in data["regions"]["names"]}
        self._bodies = {key(name) for name in data["bodies"]["names"]}
        self._outlets = {key(name) for name in data["outlets"]["names"]}
        self.outlet_words = frozenset(data["outlets"]["words"])
        roles = data["roles"]
        self.state_roles = frozenset(roles["state"])
        self.minor_roles = frozenset(roles["minor"])
        self.honorifics = frozenset(roles["honorifics"])
        self.person_roles = frozenset(roles["person"])
        self.stopwords = frozenset(data["stopwords"]["en"].split())
        self.theme_stopwords = frozenset(data["stopwords"]["theme"].split())
        self.given_names = frozenset(fold(name) for name in data["given_names"]["names"].split())

    def country_of(self, name: str) -> str | None:
        """The country `name` is, names the people of, or is the capital or government of; else None."""
        return self._country_of.get(key(name))

    def demonym_country(self, word: str) -> str | None:
        """The country of a demonym ("Turkish" -> "Turkey"), else None."""
        return self._demonyms.get(key(word))

    def is_region(self, name: str) -> bool:
        """A region, sea or bloc ("Middle East", "Red Sea", "the West")."""
        return key(name) in self._regions

    def is_body(self, name: str) -> bool:
        """A world body or alliance ("United Nations", "NATO", "Red Cross")."""
        return key(name) in self._bodies

    def is_outlet(self, name: str) -> bool:
        """A news outlet, agency or platform ("Associated Press", "Haaretz", "Twitter")."""
        return key(name) in self._outlets


@dataclass(frozen=True)
class Transliteration:
    """seed/data/translit.toml: Arabic script and other spellings of common name words, spelling rules."""

    words: dict[str, tuple[str, tuple[str, ...]]]  # folded word -> (Arabic script, other Latin spellings)
    pairs: tuple[tuple[str, str], ...]
    articles: tuple[str, ...]

    @functools.cached_property
    def latin_of_arabic(self) -> dict[str, str]:
        """Folded Arabic script -> the Latin word it transliterates (the first listed wins)."""
        found: dict[str, str] = {}
        for word, (arabic, _) in self.words.items():
            found.setdefault(fold(arabic), word)
        return found


def key(name: str) -> str:
    """The folded form lookups use: `fold`, optional articles ("al", "el") and a leading "the" dropped."""
    words = [word for word in fold(name).split() if word not in OPTIONAL_ARTICLES]
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _data(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("monitor.seed").joinpath("data", name).read_text(encoding="utf-8"))


@functools.cache
def world() -> World:
    """The world knowledge of seed/data/world.toml (read once)."""
    return World(_data("world.toml"))


@functools.cache
def transliteration() -> Transliteration:
    """The transliteration knowledge of seed/data/translit.toml (read once)."""
    data = _data("translit.toml")
    words = {fold(word): (body["arabic"], tuple(body.get("latin", ()))) for word, body in data["words"].items()}
    pairs = tuple((left, right) for left, right in data["rules"]["pairs"])
    return Transliteration(words=words, pairs=pairs, articles=tuple(data["rules"]["articles"]))


@dataclass(frozen=True)
class SynonymGroup:
    """Words the news uses interchangeably (seed/data/thesaurus.toml); `weak` when every conflict uses them."""

    name: str
    words: tuple[str, ...]
    weak: bool


@functools.cache
def thesaurus() -> dict[str, SynonymGroup]:
    """seed/data/thesaurus.toml: folded word or phrase -> its group (read once)."""
    found: dict[str, SynonymGroup] = {}
    for name, body in _data("thesaurus.toml")["groups"].items():
        group = SynonymGroup(name, tuple(body["words"]), bool(body.get("weak", False)))
        for word in group.words:
            found.setdefault(fold(word), group)
    return found


@functools.lru_cache(maxsize=65_536)
def commonness(phrase: str, language: str = "en") -> float:
    """Zipf frequency of `phrase` in ordinary text of `language` ("en" or "ar"): 0 unknown .. ~7 "the".

    A phrase of several words is as common as wordfreq estimates the words together (close to its rarest
    word). Hyphens and apostrophes are folded away first ("Kata'ib" -> "kataib").
    """
    from wordfreq import zipf_frequency  # imported on first use: only `monitor seed` needs it

    words = fold(phrase).split()
    if not words:
        return 0.0
    return float(zipf_frequency(" ".join(words), language))
