"""Seed draft watch rules from a document, for a person to review (`monitor seed FILE`).

`seed_document` (pure) finds the organisations, people and places a document names, without a language model:
  - a built-in gazetteer of this domain (`GAZETTEER`: the Iran-backed Iraqi militias, their leaders, the PMF,
    the IRGC, Iraqi officials, the US government) with every spelling we know, Arabic names and known traps;
  - capitalised word sequences, with "al-"/"bin"/"Abu" particles and "of"/"in" inside names
    ("Islamic Resistance in Iraq"), split at titles ("Iraqi Prime Minister Mohammed Shia al-Sudani");
  - acronyms in parentheses ("Revolutionary Guards (IRGC)");
  - titles and given names to tell people from organisations, a short list of places.
For each actor it derives transliteration variants (Kataeb/Kata'ib/Kataib, Hezbollah/Hizballah/Hizbullah,
al- dropped, Shia/Shiite, Mohammed/Muhammad...), and it picks theme phrases from a small lexicon (disarm,
airstrike, under state control...) when the document uses them.

`render_draft_toml` writes the draft in the rule language (docs/rules.md): one rule per actor, one rule per
theme with the draft's actors in the same sentence, each with the sentence it was found in as a `match`
example, all severity "medium", under a "# DRAFT: review before use" header. `write_draft` saves it as
NAME.draft.toml (NAME.draft-2.toml, ... when taken) and never overwrites a file: reviewed rule files are safe.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import MonitorError
from monitor.normalize import OPTIONAL_ARTICLES, fold
from monitor.rules import COMMON_WORDS

DRAFT_HEADER = "# DRAFT: review before use"
DRAFT_SEVERITY = "medium"
MAX_VARIANTS = 24
"""Most variants derived from one spelling."""
MAX_ALIASES = 40
"""Most aliases written for one actor: spellings found first, then the gazetteer's, then derived ones."""


class SeedError(MonitorError):
    """A draft rule file could not be written (directory missing and not creatable, or not writable)."""

    exit_code = 1


# --- the built-in knowledge -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A gazetteer entry: a known actor of this domain, its spellings, and look-alikes to exclude."""

    name: str
    kind: str  # "organisation" | "person" | "place"
    aliases: tuple[str, ...] = ()
    acronyms: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


GAZETTEER: dict[str, Known] = {
    "kataib-hezbollah": Known(
        "Kata'ib Hezbollah",
        "organisation",
        (
            "Kataeb Hezbollah",
            "Kataib Hezbollah",
            "Kata'ib Hizballah",
            "Kataib Hizbullah",
            "Kataeb Hizballah",
            "Hezbollah Brigades",
            "Hizballah Brigades",
            "كتائب حزب الله",
        ),
        ("KH",),
        ("Kataeb party", "Phalange", "Gemayel", "Lebanese Forces", "Kh-101"),
    ),
    "nujaba": Known(
        "Harakat Hezbollah al-Nujaba",
        "organisation",
        (
            "Harakat al-Nujaba",
            "al-Nujaba",
            "Nujaba",
            "Nujabaa",
            "Nujaba Movement",
            "Movement of the Noble Ones",
            "حركة النجباء",
        ),
    ),
    "kataib-sayyid-al-shuhada": Known(
        "Kata'ib Sayyid al-Shuhada",
        "organisation",
        (
            "Kataeb Sayyid al-Shuhada",
            "Kataib Sayed al-Shuhada",
            "Kata'ib Sayyed al-Shuhada",
            "Sayyid al-Shuhada Brigades",
            "Brigades of the Lord of the Martyrs",
            "كتائب سيد الشهداء",
        ),
        ("KSS",),
    ),
    "ansar-allah-al-awfiya": Known(
        "Ansar Allah al-Awfiya",
        "organisation",
        ("Ansarullah al-Awfiya", "Ansar Allah al-Awfiyaa", "Faithful Supporters of God", "أنصار الله الأوفياء"),
        exclude=("Yemen's Ansar Allah", "Sanaa"),
    ),
    "islamic-resistance-in-iraq": Known(
        "Islamic Resistance in Iraq",
        "organisation",
        ("Islamic Resistance of Iraq", "Iraqi Islamic Resistance", "المقاومة الإسلامية في العراق"),
    ),
    "asaib-ahl-al-haq": Known(
        "Asa'ib Ahl al-Haq",
        "organisation",
        ("Asaib Ahl al-Haq", "Asaeb Ahl al-Haq", "Asa'ib Ahl al-Haqq", "League of the Righteous", "عصائب أهل الحق"),
        ("AAH",),
    ),
    "badr-organization": Known(
        "Badr Organization", "organisation", ("Badr Organisation", "Badr Brigades", "Badr Corps", "منظمة بدر")
    ),
    "pmf": Known(
        "Popular Mobilization Forces",
        "organisation",
        (
            "Popular Mobilisation Forces",
            "Popular Mobilization Units",
            "Popular Mobilisation Units",
            "Hashd al-Shaabi",
            "al-Hashd al-Shaabi",
            "Hashd",
            "الحشد الشعبي",
        ),
        ("PMF", "PMU"),
        ("product-market fit", "startup"),
    ),
    "irgc": Known(
        "Islamic Revolutionary Guard Corps",
        "organisation",
        ("Revolutionary Guard Corps", "Revolutionary Guards", "Revolutionary Guard", "Sepah", "الحرس الثوري"),
        ("IRGC",),
        ("Bank Sepah",),
    ),
    "quds-force": Known("Quds Force", "organisation", ("Qods Force", "al-Quds Force", "فيلق القدس"), ("IRGC-QF",)),
    "coordination-framework": Known(
        "Coordination Framework", "organisation", ("Shiite Coordination Framework", "الإطار التنسيقي")
    ),
    "us-government": Known(
        "United States",
        "organisation",
        ("Trump administration", "Washington", "Pentagon", "White House", "State Department"),
        ("US", "U.S."),
    ),
    "sudani": Known(
        "Mohammed Shia al-Sudani",
        "person",
        ("Muhammad Shia al-Sudani", "Mohammed al-Sudani", "al-Sudani", "Sudani", "al-Soudani", "السوداني"),
        exclude=("Sudan", "Sudanese", "RSF", "Khartoum", "Darfur"),
    ),
    "izzat-al-shahbandar": Known(
        "Izzat al-Shahbandar",
        "person",
        ("Izzat al-Shahbndar", "Ezzat al-Shahbandar", "Izzat al-Shabandar", "Shahbandar", "عزت الشابندر"),
    ),
    "farhad-alaadin": Known(
        "Farhad Alaadin", "person", ("Farhad Alaa al-Din", "Farhad Alaaldin", "Farhad Aladdin", "فرهاد علاء الدين")
    ),
    "akram-al-kaabi": Known("Akram al-Kaabi", "person", ("Akram al-Ka'bi", "Akram Kaabi", "أكرم الكعبي")),
    "abu-fadak": Known(
        "Abu Fadak al-Mohammedawi", "person", ("Abu Fadak al-Muhammadawi", "Abu Fadak", "أبو فدك المحمداوي")
    ),
    "qais-al-khazali": Known("Qais al-Khazali", "person", ("Qays al-Khazali", "Qais Khazali", "قيس الخزعلي")),
    "hadi-al-amiri": Known("Hadi al-Amiri", "person", ("Hadi al-Ameri", "هادي العامري")),
    "falih-al-fayyadh": Known("Falih al-Fayyadh", "person", ("Faleh al-Fayyadh", "Falih al-Fayyad", "فالح الفياض")),
    "abu-mahdi-al-muhandis": Known(
        "Abu Mahdi al-Muhandis", "person", ("Abu Mehdi al-Muhandis", "al-Muhandis", "أبو مهدي المهندس")
    ),
    "qassem-soleimani": Known(
        "Qassem Soleimani", "person", ("Qasem Soleimani", "Qassim Suleimani", "Soleimani", "قاسم سليماني")
    ),
    "ismail-qaani": Known("Esmail Qaani", "person", ("Ismail Qaani", "Esmail Ghaani", "Qaani", "إسماعيل قاآني")),
}

THEMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "disarmament": (
        "Disarmament",
        (
            "disarm",
            "disarms",
            "disarmed",
            "disarming",
            "disarmament",
            "lay down arms",
            "lay down their arms",
            "hand over weapons",
            "hand over their weapons",
            "surrender weapons",
            "give up weapons",
            "demobilize",
            "demobilise",
            "demobilization",
            "disband",
            "decommission",
            "نزع السلاح",
            "تسليم السلاح",
        ),
    ),
    "state-control": (
        "Weapons under state control",
        (
            "under state control",
            "state control",
            "state monopoly",
            "monopoly on arms",
            "hands of the state",
            "restricted to the state",
            "حصر السلاح بيد الدولة",
        ),
    ),
    "integration": (
        "Integration or transformation",
        (
            "integrate",
            "integrating",
            "integrated",
            "integration",
            "merge",
            "merging",
            "transform",
            "transforming",
            "political parties",
            "political party",
            "armed forces",
            "security forces",
        ),
    ),
    "strikes": (
        "Strikes",
        (
            "airstrike",
            "airstrikes",
            "air strike",
            "air strikes",
            "drone strike",
            "drone strikes",
            "targeted strikes",
            "retaliatory strikes",
            "air raid",
            "bombing",
        ),
    ),
    "warnings": (
        "Warnings and pressure",
        ("warning", "warnings", "warn", "warns", "warned", "threat", "threats", "ultimatum", "pressure", "sanctions"),
    ),
    "attacks": (
        "Attacks",
        (
            "attack",
            "attacks",
            "attacked",
            "drone attack",
            "rocket attack",
            "missile attack",
            "rockets",
            "missiles",
            "drones",
        ),
    ),
}

# Interchangeable spellings of one word; a name's words are looked up by their folded form.
VARIANT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Kata'ib", "Kataeb", "Katayib"),
    ("Hezbollah", "Hizballah", "Hizbullah", "Hizbollah"),
    ("Mohammed", "Muhammad", "Mohammad", "Mohamed"),
    ("Shia", "Shiite", "Shi'ite", "Shii"),
    ("Sayyid", "Sayed", "Sayyed"),
    ("Shuhada", "Shuhadaa", "Shohada"),
    ("Haq", "Haqq"),
    ("Qais", "Qays"),
    ("Sudani", "Soudani"),
    ("Shaabi", "Sha'abi", "Shabi"),
    ("Mobilization", "Mobilisation"),
    ("Organization", "Organisation"),
    ("Nujaba", "Nujabaa"),
    ("Awfiya", "Awfiyaa"),
    ("Asa'ib", "Asaeb", "Asayib"),
    ("Abu", "Abou"),
    ("Hussein", "Husayn", "Hussain"),
    ("Qassem", "Qasem", "Qassim"),
    ("Soleimani", "Suleimani"),
    ("Esmail", "Ismail", "Esmaeil"),
    ("Qaani", "Ghaani"),
    ("Falih", "Faleh"),
    ("Izzat", "Ezzat"),
    ("Shahbandar", "Shahbndar", "Shabandar"),
    ("Alaadin", "Alaaldin", "Alaeddin"),
    ("Quds", "Qods"),
    ("Guards", "Guard"),
    ("Amiri", "Ameri"),
    ("Kaabi", "Ka'bi"),
    ("Muhandis", "Mohandes"),
    ("Ahmed", "Ahmad"),
)
_KNOWN_FORMS: tuple[str, ...] = tuple(form for known in GAZETTEER.values() for form in (known.name, *known.aliases))
_VARIANTS_OF: dict[str, tuple[str, ...]] = {fold(spelling): group for group in VARIANT_GROUPS for spelling in group}

TITLES: tuple[str, ...] = (
    "Prime Minister",
    "Deputy Prime Minister",
    "Foreign Minister",
    "Defence Minister",
    "Defense Minister",
    "Interior Minister",
    "Secretary-General",
    "Secretary General",
    "Minister",
    "President",
    "Vice President",
    "Speaker",
    "Secretary of State",
    "Secretary",
    "General",
    "Gen.",
    "Brigadier",
    "Colonel",
    "Commander",
    "Sheikh",
    "Shaikh",
    "Ayatollah",
    "Ambassador",
    "Envoy",
    "Senator",
    "King",
    "Crown Prince",
    "Emir",
    "Adviser",
    "Advisor",
    "Spokesman",
)


def _words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of a long literal (keeps the word lists below readable)."""
    return tuple(text.split())


LOWER_TITLES: frozenset[str] = frozenset(
    _words(
        "adviser advisor advisers advisors spokesman spokeswoman spokesperson politician leader chief commander "
        "minister envoy cleric official lawmaker mp secretary-general head founder"
    )
)
GIVEN_NAMES: frozenset[str] = frozenset(
    fold(name)
    for name in _words(
        "Mohammed Muhammad Mohammad Mohamed Ahmed Ahmad Ali Hadi Qais Qays Akram Izzat Ezzat Farhad Falih Faleh "
        "Hussein Abu Abdul Abdulaziz Ismail Esmail Qassem Qasem Nouri Moqtada Muqtada Hashim Jamal Hamid Haider "
        "Hayder Kadhim Kazem Mustafa Fuad Fouad Ammar Humam Sami Naim Hassan Hasan Omar Khalid Salim Saleh Abbas "
        "Ibrahim Yousef Yusuf Mahmoud Mahdi Mehdi Jaafar Jafar Qasim Rayan Laith Karim Donald Joe Marco Pete "
        "Thabit Sabah Adil Adel Nuri Bilal Riyadh Osama Usama Wathiq Faisal"
    )
)
PLACES: frozenset[str] = frozenset(
    fold(place)
    for place in (
        "Iraq",
        "Iran",
        "Syria",
        "Israel",
        "Gaza",
        "Jordan",
        "Lebanon",
        "Yemen",
        "Turkey",
        "Saudi Arabia",
        "Kuwait",
        "Qatar",
        "Egypt",
        "Baghdad",
        "Basra",
        "Erbil",
        "Irbil",
        "Mosul",
        "Kirkuk",
        "Najaf",
        "Karbala",
        "Anbar",
        "Diyala",
        "Tikrit",
        "Fallujah",
        "Ramadi",
        "Samarra",
        "Sulaymaniyah",
        "Tehran",
        "Damascus",
        "Beirut",
        "Amman",
        "Riyadh",
        "Jerusalem",
        "Tel Aviv",
        "Kurdistan",
        "Jurf al-Sakhar",
        "al-Qaim",
        "Deir ez-Zor",
        "Albu Kamal",
        "Ain al-Asad",
        "Tower 22",
        "Red Sea",
        "Persian Gulf",
        "Middle East",
        "Europe",
        "Russia",
        "China",
        "Ukraine",
    )
)
_ORG_WORDS = frozenset(
    fold(word)
    for word in _words(
        "Forces Force Brigades Brigade Battalions Movement Resistance Guards Guard Corps Party Organization "
        "Organisation Front Army Committee Council Framework Alliance Coalition Units Authority Commission "
        "Ministry Bank Company Group Hezbollah Hizballah Kataib Kataeb Asaib Harakat Saraya Ansar Bloc Network"
    )
)
# Capitalised words that start sentences or headlines without naming anything.
_STOPWORDS = frozenset(
    _words(
        """a an the this these those that there their they them it its he she his her we our you your i my
    amid after before since while when where what why how who whom which whose if as at by for from in into of
    on onto to with without within about above across against along among around behind below beneath beside
    between beyond but during except inside near off out outside over past through throughout under until up
    upon and or nor so yet also however moreover meanwhile crucially still thus then here now today yesterday
    tomorrow according speaking several many multiple some all any each every most more less other another
    such both either neither no not read more see watch live breaking update exclusive analysis opinion
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december commanders commander officials official sources source"""
    )
)
_DEMONYM_SUFFIX = re.compile(r"(?:ian|ians|ese)$")
_DEMONYMS = frozenset(
    _words(
        "iraqi iraqis iranian iranians syrian syrians american americans israeli israelis lebanese jordanian "
        "jordanians kurdish kurds shiite shiites shia sunni sunnis yemeni yemenis saudi turkish russian "
        "palestinian palestinians emirati qatari kuwaiti egyptian"
    )
)
_TOKEN = re.compile(r"[^\W\d_][\w'\u2019\u02bc\-]*|\d+", re.UNICODE)
_ACRONYM_IN_PARENS = re.compile(r"\(\s*([A-Z][A-Z0-9]{1,7}(?:-[A-Z0-9]{1,4})?)\s*\)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\u061f])[\"'\u201d\u2019)]*\s+|\n\s*\n|\n")
_ID_CHARS = re.compile(r"[^a-z0-9]+")
_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "abou", "umm", "de", "der", "van", "von"})
_CONNECTORS = frozenset({"of", "in", "the", "for", "al", "el", "bin", "ibn"})


# --- the draft ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedActor:
    """An organisation, person or place the document names, with the spellings to watch for."""

    id: str
    name: str
    kind: str  # "organisation" | "person" | "place"
    aliases: tuple[str, ...]  # besides the name: as found, derived variants, gazetteer spellings
    acronyms: tuple[str, ...]
    exclude: tuple[str, ...]  # look-alikes from the gazetteer
    sentence: str  # the first sentence it was found in
    mentions: int  # how many sentences name it
    known: bool  # True when it is in the built-in gazetteer


@dataclass(frozen=True)
class SeedTheme:
    """A theme of the lexicon the document uses, with the phrases it used first."""

    id: str
    name: str
    phrases: tuple[str, ...]
    found: tuple[str, ...]  # the phrases that occur in the document
    sentence: str  # the first sentence using one of them


@dataclass(frozen=True)
class SeedDraft:
    """What `seed_document` found in one document: the raw material of a draft rule file."""

    source_name: str
    actors: tuple[SeedActor, ...]
    themes: tuple[SeedTheme, ...]


@dataclass
class _Candidate:
    """An actor being collected: one per gazetteer entry or per distinct heuristic name."""

    name: str
    kind: str
    order: int  # position of the first mention in the document (for a stable, readable order)
    sentence: str
    surfaces: list[str] = field(default_factory=list)
    acronyms: list[str] = field(default_factory=list)
    sentences: set[int] = field(default_factory=set)
    known: str | None = None


def seed_document(text: str, *, source_name: str) -> SeedDraft:
    """Find the actors and themes of `text` (a news article); pure, deterministic."""
    sentences = _sentences(text)
    candidates: dict[str, _Candidate] = {}
    _find_known(sentences, candidates)
    _find_by_heuristics(sentences, candidates)
    actors = _actors(candidates)
    themes = _themes(sentences)
    return SeedDraft(source_name=source_name, actors=tuple(actors), themes=tuple(themes))


# --- sentences ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sentence:
    index: int
    offset: int  # position in the document, for ordering
    text: str
    folded: str  # " " + fold(text) without optional articles + " "
    title_case: bool  # a headline in Title Case: capitalisation says nothing there


def _sentences(text: str) -> list[_Sentence]:
    result: list[_Sentence] = []
    position = 0
    for piece in _SENTENCE_SPLIT.split(text):
        start = text.find(piece, position) if piece else position
        position = start + len(piece)
        stripped = " ".join(piece.split())
        if not stripped or not any(char.isalpha() for char in stripped):
            continue
        result.append(_Sentence(len(result), start, stripped, _padded(stripped), _is_title_case(stripped)))
    return result


def _padded(text: str) -> str:
    return " " + " ".join(word for word in fold(text).split() if word not in OPTIONAL_ARTICLES) + " "


def _is_title_case(text: str) -> bool:
    words = [word for word in _TOKEN.findall(text) if word[0].isalpha() and word[0].isascii()]
    if len(words) < 4 or text.rstrip().endswith((".", "!", "?")):
        return False
    capitalised = sum(1 for word in words if word[0].isupper())
    return capitalised / len(words) >= 0.6


def _contains(sentence: _Sentence, phrase: str) -> bool:
    key = _padded(phrase)
    return key.strip() != "" and key in sentence.folded


# --- gazetteer --------------------------------------------------------------------------------------------------


def _find_known(sentences: Sequence[_Sentence], candidates: dict[str, _Candidate]) -> None:
    for known_id, known in GAZETTEER.items():
        for sentence in sentences:
            surfaces = [form for form in (known.name, *known.aliases) if _contains(sentence, form)]
            acronyms = [acronym for acronym in known.acronyms if _has_acronym(sentence.text, acronym)]
            if not surfaces and not acronyms:
                continue
            candidate = candidates.get(known_id)
            if candidate is None:
                order = sentence.offset + _first_position(sentence.text, surfaces + acronyms)
                candidate = _Candidate(known.name, known.kind, order, sentence.text, known=known_id)
                candidates[known_id] = candidate
            candidate.sentences.add(sentence.index)
            candidate.acronyms.extend(acronyms)
            candidate.surfaces.extend(_surface_in(sentence.text, form) for form in surfaces)


def _has_acronym(text: str, acronym: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(acronym) + r"(?![\w])", text) is not None


def _first_position(text: str, forms: Sequence[str]) -> int:
    positions = [text.casefold().find(form.casefold()) for form in forms]
    found = [position for position in positions if position >= 0]
    return min(found) if found else 0


def _surface_in(text: str, form: str) -> str:
    """The spelling the document actually uses for `form` (same folded words), else `form` itself."""
    target = _padded(form).strip().split()
    tokens = _TOKEN.findall(text)
    folded = [_padded(token).strip() for token in tokens]
    for start in range(len(tokens)):
        taken: list[str] = []
        words: list[str] = []
        for token, key in zip(tokens[start:], folded[start:], strict=False):
            if not key:
                taken.append(token)
                continue
            words.extend(key.split())
            taken.append(token)
            if len(words) >= len(target):
                break
        if words == target and folded[start]:
            return _strip_possessive(" ".join(taken))
    return form


# --- heuristics ---------------------------------------------------------------------------------------------------


def _find_by_heuristics(sentences: Sequence[_Sentence], candidates: dict[str, _Candidate]) -> None:
    for sentence in sentences:
        for name, acronym in _acronym_names(sentence.text):
            _add_found(candidates, sentence, name, "organisation", acronym)
        if sentence.title_case:
            continue
        for name, kind in _capitalised_names(sentence.text):
            _add_found(candidates, sentence, name, kind, None)


def _add_found(
    candidates: dict[str, _Candidate], sentence: _Sentence, name: str, kind: str, acronym: str | None
) -> None:
    key = _canonical(name)
    if not key:
        return
    for candidate in candidates.values():
        if candidate.known and _known_matches(candidate.known, name, acronym):
            _record(candidate, sentence, name, acronym)
            return
    existing = candidates.get(key) or _same_person(candidates, name, kind)
    if existing is None:
        existing = _Candidate(name, kind, sentence.offset + max(sentence.text.find(name), 0), sentence.text)
        candidates[key] = existing
    elif kind == "person" and existing.kind != "person":
        existing.kind = "person"
    _record(existing, sentence, name, acronym)


def _record(candidate: _Candidate, sentence: _Sentence, name: str, acronym: str | None) -> None:
    candidate.sentences.add(sentence.index)
    candidate.surfaces.append(name)
    if acronym:
        candidate.acronyms.append(acronym)


def _known_matches(known_id: str, name: str, acronym: str | None) -> bool:
    known = GAZETTEER[known_id]
    key = _canonical(name)
    if acronym and acronym in known.acronyms:
        return True
    return any(_canonical(form) == key for form in (known.name, *known.aliases))


def _same_person(candidates: dict[str, _Candidate], name: str, kind: str) -> _Candidate | None:
    """A one-word name that is the surname of a person already found ("Sudani" for "Mohammed Shia al-Sudani")."""
    words = _canonical(name).split()
    if len(words) != 1:
        return None
    for candidate in candidates.values():
        if candidate.kind == "person" and _canonical(candidate.name).split()[-1:] == words:
            return candidate
    del kind
    return None


def _acronym_names(text: str) -> Iterable[tuple[str, str]]:
    """("Revolutionary Guards", "IRGC") for "Iran's Revolutionary Guards (IRGC)"."""
    for found in _ACRONYM_IN_PARENS.finditer(text):
        before = text[: found.start()].rstrip()
        tokens = list(_TOKEN.finditer(before))
        name_tokens: list[str] = []
        for token in reversed(tokens):
            word = token.group()
            gap = before[token.end() : (name_tokens and before.find(name_tokens[0], token.end())) or len(before)]
            if gap.strip():
                break
            lowered = word.casefold()
            capitalised = word[0].isupper() and not _is_possessive(word)
            if not (capitalised or lowered in _CONNECTORS or lowered.startswith(("al-", "el-"))):
                break
            name_tokens.insert(0, word)
        while name_tokens and (name_tokens[0].casefold() in _CONNECTORS or name_tokens[0].casefold() in _STOPWORDS):
            name_tokens.pop(0)
        if name_tokens:
            yield " ".join(name_tokens), found.group(1)


def _capitalised_names(text: str) -> Iterable[tuple[str, str]]:
    """Names written with capitals, split at titles, with a guess of their kind."""
    tokens = list(_TOKEN.finditer(text))
    run: list[re.Match[str]] = []
    for token in [*tokens, None]:
        if token is not None and run and text[run[-1].end() : token.start()].strip():
            yield from _names_in_run(text, run)
            run = []
        if token is None:
            break
        word = token.group()
        lowered = word.casefold()
        starts_name = word[0].isupper() or (lowered.startswith(("al-", "el-")) and len(word) > 3)
        if starts_name or (lowered in _CONNECTORS and run):
            run.append(token)
        else:
            yield from _names_in_run(text, run)
            run = []
    yield from _names_in_run(text, run)


def _names_in_run(text: str, run: list[re.Match[str]]) -> Iterable[tuple[str, str]]:
    words = [token.group() for token in run]
    while words and words[-1].casefold() in _CONNECTORS:
        words.pop()
    if not words:
        return
    # "US Trump administration", "Iran's Revolutionary Guards": an acronym or a possessor starts another name.
    for index, word in enumerate(words[:-1]):
        if (word.isupper() and len(word) > 1) or _is_possessive(word):
            yield from _names_in_run(text, run[: index + 1])
            yield from _names_in_run(text, run[index + 1 :])
            return
    if len(words) > 1 and _canonical(" ".join(words)) in _known_keys():
        yield " ".join(words), "organisation"
        return
    start = run[0].start()
    preceding = text[:start].split()
    title_before = bool(preceding) and preceding[-1].strip(",:").casefold() in LOWER_TITLES
    for kind, piece in _split_at_titles(words):
        skip = 0
        while skip < len(piece) and piece[skip].casefold() in _STOPWORDS | _CONNECTORS:
            skip += 1
        while skip < len(piece) - 1 and _is_demonym(piece[skip]):
            skip += 1
        if skip == len(piece):
            continue
        name_words = [*piece[skip:-1], _strip_possessive(piece[-1])]
        hint = kind or ("person" if title_before else None)
        guessed = _kind_of(name_words, hint)
        if guessed == "person":
            # "Alina Romanowski in Baghdad": a person is never "in" a place; organisations may be.
            for index in range(1, len(name_words) - 1):
                place = " ".join(name_words[index + 1 :])
                if name_words[index].casefold() in {"in", "at", "of"} and _padded(place).strip() in PLACES:
                    yield " ".join(name_words[:index]), "person"
                    yield place, "place"
                    break
            else:
                yield " ".join(name_words), guessed
        elif guessed is not None:
            yield " ".join(name_words), guessed


def _split_at_titles(words: list[str]) -> list[tuple[str | None, list[str]]]:
    """[(None, words before a title), ("person", words after it)]; one piece when there is no title."""
    joined = [word.casefold() for word in words]
    for title in sorted(TITLES, key=len, reverse=True):
        parts = title.casefold().split()
        for index in range(len(words) - len(parts)):
            if joined[index : index + len(parts)] == parts:
                after = words[index + len(parts) :]
                return [(None, words[:index]), ("person", after)]
    return [(None, words)]


def _kind_of(words: list[str], hint: str | None) -> str | None:
    """organisation / person / place, or None when the words are not a name worth a rule."""
    folded = [_padded(word).strip() for word in words]
    joined = " ".join(word for word in folded if word)
    if joined in PLACES:
        return "place"
    if len(words) == 1:
        word = words[0]
        if word.casefold().startswith(("al-", "el-")) and len(word) > 4:
            return hint or "organisation"
        if hint == "person" and not _is_demonym(word):
            return "person"
        return None  # one capitalised word: a sentence start, a demonym or a common noun more often than a name
    if any(word in _ORG_WORDS for word in " ".join(folded).split()):
        return "organisation"
    first = folded[0].split()[0] if folded[0] else ""
    if hint == "person" or first in GIVEN_NAMES or any(w.casefold() in _PARTICLES for w in words[1:]):
        return "person"
    if any(word.casefold().startswith(("al-", "el-")) for word in words):
        return "person"
    return "organisation"


def _is_demonym(word: str) -> bool:
    """ "Iraqi", "Shiite", "Iranian": adjectives of nationality or faith, not names."""
    folded = fold(word)
    if folded in PLACES or not word[0].isupper():
        return False
    return folded in _DEMONYMS or (len(folded) > 5 and _DEMONYM_SUFFIX.search(folded) is not None)


def _is_possessive(word: str) -> bool:
    return word.endswith(("'s", "\u2019s"))


def _strip_possessive(word: str) -> str:
    return word[:-2] if _is_possessive(word) else word


@functools.cache
def _known_keys() -> frozenset[str]:
    """The canonical keys of every gazetteer spelling."""
    return frozenset(_canonical(form) for form in _KNOWN_FORMS)


def _canonical(name: str) -> str:
    """A key under which spellings of one name meet: folded, articles dropped, variant groups unified."""
    words = []
    for word in fold(name).split():
        if word in OPTIONAL_ARTICLES:
            continue
        group = _VARIANTS_OF.get(word)
        words.append(fold(group[0]) if group else word)
    return " ".join(words)


# --- actors -------------------------------------------------------------------------------------------------------


def _actors(candidates: dict[str, _Candidate]) -> list[SeedActor]:
    actors: list[SeedActor] = []
    used_ids: set[str] = set()
    for candidate in sorted(candidates.values(), key=lambda c: c.order):
        known = GAZETTEER.get(candidate.known) if candidate.known else None
        name = known.name if known else _best_surface(candidate)
        person = candidate.kind == "person"
        spellings = [*candidate.surfaces, *(known.aliases if known else ())]
        aliases = [*spellings, *derive_variants(name, person=person)]
        for spelling in spellings:
            aliases.extend(derive_variants(spelling, person=person))
        acronyms = list(dict.fromkeys([*candidate.acronyms, *(known.acronyms if known else ())]))
        exclude = [phrase for phrase in (known.exclude if known else ()) if _usable(phrase)]
        kept_aliases = _clean_aliases(name, aliases, exclude)[:MAX_ALIASES]
        if not kept_aliases and not _usable(name) and not acronyms:
            continue
        actor_id = _unique_id(candidate.known or _slug(name), used_ids)
        actors.append(
            SeedActor(
                id=actor_id,
                name=name,
                kind=candidate.kind,
                aliases=tuple(kept_aliases),
                acronyms=tuple(acronyms),
                exclude=tuple(exclude),
                sentence=candidate.sentence,
                mentions=len(candidate.sentences),
                known=known is not None,
            )
        )
    return actors


def _best_surface(candidate: _Candidate) -> str:
    """The longest spelling found (the full name rather than "Sudani")."""
    return max(candidate.surfaces, key=lambda surface: (len(surface.split()), len(surface)), default=candidate.name)


def derive_variants(name: str, *, person: bool = False) -> list[str]:
    """Transliteration variants of `name`: spelling groups word by word, "al-" dropped, a person's surname."""
    pieces = name.split()
    options: list[list[str]] = []
    for piece in pieces:
        prefix, word = ("", piece)
        match = re.match(r"^((?:al|el|Al|El)-)(.+)$", piece)
        if match:
            prefix, word = match.group(1), match.group(2)
        group = _VARIANTS_OF.get(fold(word))
        spellings = [word] + [spelling for spelling in group or () if fold(spelling) != fold(word)]
        options.append([prefix + spelling for spelling in spellings])
    # One word respelled at a time: the matcher's fuzzy stage covers most combinations of two.
    spelled = [" ".join(option[0] for option in options)]
    for position, option in enumerate(options):
        for spelling in option[1:]:
            words = [choice[0] for choice in options]
            words[position] = spelling
            spelled.append(" ".join(words))
    variants: list[str] = []
    for variant in spelled:
        variants.append(variant)
        without_article = re.sub(r"\b(?:al|el|Al|El)-", "", variant)
        if without_article != variant and without_article.strip():
            variants.append(without_article)
    if person and len(pieces) >= 2 and re.match(r"^(?:al|el|Al|El)-", pieces[-1]):
        surname = pieces[-1]  # a nisba such as "al-Sudani" is how the press names a person on second mention
        if len(surname) >= 7:
            variants.extend([surname, surname[3:]])
    return [variant for variant in dict.fromkeys(variants) if variant != name][:MAX_VARIANTS]


def _clean_aliases(name: str, aliases: Iterable[str], exclude: Sequence[str]) -> list[str]:
    """Aliases the rule loader accepts, one per folded spelling, not the name itself and not an exclusion."""
    seen = {fold(name)}
    excluded = {_padded(phrase).strip() for phrase in exclude}
    kept = []
    for written in aliases:
        alias = " ".join(written.split())
        key = fold(alias)
        if key in seen or not _usable(alias) or _padded(alias).strip() in excluded:
            continue
        seen.add(key)
        kept.append(alias)
    return kept


def _usable(form: str) -> bool:
    """What monitor.rules accepts as an alias: some word besides al/el, not a lone common English word."""
    words = [word for word in fold(form).split() if word not in OPTIONAL_ARTICLES]
    return bool(words) and not (len(words) == 1 and words[0] in COMMON_WORDS)


def _slug(name: str) -> str:
    ascii_name = _ID_CHARS.sub("-", fold(name).encode("ascii", "ignore").decode()).strip("-")
    return ascii_name or "actor"


def _unique_id(base: str, used: set[str]) -> str:
    candidate = base
    number = 2
    while candidate in used:
        candidate = f"{base}-{number}"
        number += 1
    used.add(candidate)
    return candidate


# --- themes -------------------------------------------------------------------------------------------------------


def _themes(sentences: Sequence[_Sentence]) -> list[SeedTheme]:
    themes = []
    for theme_id, (name, phrases) in THEMES.items():
        found = [phrase for phrase in phrases if any(_contains(sentence, phrase) for sentence in sentences)]
        if not found:
            continue
        first = next(sentence for sentence in sentences if any(_contains(sentence, p) for p in found))
        ordered = tuple(dict.fromkeys([*found, *phrases]))
        themes.append(SeedTheme(theme_id, name, ordered, tuple(found), first.text))
    return themes


# --- rendering ----------------------------------------------------------------------------------------------------


def render_draft_toml(draft: SeedDraft) -> str:
    """The draft as a rule file (docs/rules.md) that `load_rules` accepts, marked as a draft to review."""
    lines = [
        DRAFT_HEADER,
        f"# Seeded by `monitor seed` from {draft.source_name}: {len(draft.actors)} actor(s), "
        f"{len(draft.themes)} theme(s), found by a gazetteer and capitalisation heuristics, not by a person.",
        "# Before use: delete what is not worth an alert, check every alias (a short or common one fires on",
        "# other things), add `exclude` phrases for look-alikes, set severities, add `no_match` examples,",
        "# then save it under a name without '.draft' in the rules directory.",
        "",
    ]
    if not draft.actors:
        lines.append("# No organisation, person or place was found: nothing to watch yet.")
    theme_ids = _theme_ids(draft)
    for actor in draft.actors:
        origin = "gazetteer" if actor.known else "heuristics"
        lines.append(f"# {actor.kind}, named in {actor.mentions} sentence(s); found by {origin}")
        lines.append(f"[actors.{actor.id}]")
        lines.append(f"name = {_toml_string(actor.name)}")
        lines.append(f"aliases = {_toml_list(actor.aliases)}")
        if actor.acronyms:
            lines.append(f"acronyms = {_toml_list(actor.acronyms)}")
        if actor.exclude:
            lines.append(f"exclude = {_toml_list(actor.exclude)}")
        lines.append("")
    for theme in draft.themes:
        lines.append(f"# theme; the document uses: {', '.join(theme.found)}")
        lines.append(f"[themes.{theme_ids[theme.id]}]")
        lines.append(f"name = {_toml_string(theme.name)}")
        lines.append(f"phrases = {_toml_list(theme.phrases)}")
        lines.append("")
    rule_ids: set[str] = set()
    for actor in draft.actors:
        rule_id = _unique_id(actor.id, rule_ids)
        lines += [
            f"[rules.{rule_id}]",
            f"description = {_toml_string(f'Mentions of {actor.name} ({actor.kind}; draft from {draft.source_name})')}",
            f'severity = "{DRAFT_SEVERITY}"',
            f"any = {_toml_list([actor.id])}",
            "",
            f"[rules.{rule_id}.examples]",
            f"match = {_toml_list([actor.sentence])}",
            "",
        ]
    if draft.actors:
        for theme in draft.themes:
            example = _theme_example(theme, draft.actors)
            if example is None:
                continue
            rule_id = _unique_id(f"{theme_ids[theme.id]}-with-actors", rule_ids)
            description = f"{theme.name} in the same sentence as an actor of this draft"
            lines += [
                f"[rules.{rule_id}]",
                f"description = {_toml_string(description)}",
                f'severity = "{DRAFT_SEVERITY}"',
                f"all = [{_toml_list([theme_ids[theme.id]])}, {_toml_list([a.id for a in draft.actors])}]",
                "same_sentence = true",
                "",
                f"[rules.{rule_id}.examples]",
                f"match = {_toml_list([example])}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def _theme_ids(draft: SeedDraft) -> dict[str, str]:
    """Theme ids that do not collide with actor ids (terms share one namespace)."""
    used = {actor.id for actor in draft.actors}
    return {theme.id: _unique_id(theme.id, used) for theme in draft.themes}


def _theme_example(theme: SeedTheme, actors: Sequence[SeedActor]) -> str | None:
    """A sentence of the document with one of the theme's phrases and one of the actors' names, if any."""
    for sentence in _sentences(theme.sentence + "\n" + "\n".join(actor.sentence for actor in actors)):
        if not any(_contains(sentence, phrase) for phrase in theme.found):
            continue
        for actor in actors:
            named = any(_contains(sentence, name) for name in (actor.name, *actor.aliases)) or any(
                _has_acronym(sentence.text, acronym) for acronym in actor.acronyms
            )
            if named and not any(_contains(sentence, phrase) for phrase in actor.exclude):
                return sentence.text
    return None


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are all valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(value) for value in values) + "]"


# --- writing ------------------------------------------------------------------------------------------------------


def write_draft(draft_text: str, out_dir: Path, name: str) -> Path:
    """Save the draft as `out_dir/NAME.draft.toml`, or NAME.draft-2.toml, ... : never overwrites any file."""
    base = _file_stem(name)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SeedError("not a directory", location=str(out_dir), hint="give --out a directory") from None
    except OSError as error:
        raise SeedError(f"cannot create the directory: {error.strerror}", location=str(out_dir)) from None
    for number in itertools.count(1):
        suffix = ".draft.toml" if number == 1 else f".draft-{number}.toml"
        path = out_dir / f"{base}{suffix}"
        try:
            with path.open("x", encoding="utf-8") as handle:  # "x": fails instead of overwriting
                handle.write(draft_text)
        except FileExistsError:
            continue
        except OSError as error:
            raise SeedError(
                f"cannot write the draft: {error.strerror}",
                location=str(path),
                hint="choose a writable directory with --out",
            ) from None
        return path
    raise AssertionError("unreachable")  # pragma: no cover


def _file_stem(name: str) -> str:
    """A safe file name stem: no directories, no ".toml"/".draft" suffix, not empty."""
    stem = Path(name).name
    for suffix in (".toml", ".draft", ".txt"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"[^\w.-]+", "-", stem).strip(".-")
    return stem or "seed"
