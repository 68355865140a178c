"""The names a document's sentences mention, with what the sentence says about each (kind, role, aliases).

English: runs of capitalised words ("Recep Tayyip Erdogan", "Harakat al-Nujaba", "Ministry of Defence"), split
at titles ("Turkish President | Recep Tayyip Erdogan"), demonyms ("Danish | Soren"), possessives ("Iran's |
Revolutionary Guards") and hyphenated pairs of names ("Israel-Hamas"); a capitalised word at the start of a
sentence or in a Title Case line counts only when the document also capitalises it elsewhere, or when it is
rare in ordinary text. What the words around a name say is kept with each mention:
  - the kind: a place after "in"/"near" or before "province"; an organisation by its words ("Forces",
    "Brigades", "Party"); a person by a title or a role;
  - the role: a head of state or minister ("President X", "foreign minister X"), or a passer-by ("spokesman
    X", "X, 60,", "12-year-old X"), which decides whether the name can be a story's core (seed/draft.py);
  - the other names the document gives it: an acronym in parentheses ("Revolutionary Guards (IRGC)"), ", or
    UNRWA", "also known as the White Helmets", "known universally by his sobriquet X", Arabic script in
    parentheses.
Arabic: names follow the words that introduce them (حركة, كتائب, الرئيس, مدينة...) and countries are known
by name. Pure: takes a Document, returns mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from monitor.normalize import fold
from monitor.seed.lexicon import ARABIC_COUNTRIES, ARABIC_DEMONYMS, World, commonness, key, thesaurus
from monitor.seed.text import Document, Sentence

PERSON = "person"
ORGANISATION = "organisation"
PLACE = "place"

OUTLET = "outlet"  # a newspaper, agency or broadcaster the article cites: never an actor
STATE = "state"  # a head of state, minister or legislator: as broad as their country
MINOR = "minor"  # a spokesman, an expert, a relative, a victim: named in passing

COMMON_NOUN = 5.0
"""A possessive word this common ("Children's") belongs to the name it is in, not to a possessor."""
RARE = 2.5
"""Zipf value under which a capitalised word is taken as a name even where capitals prove nothing."""

_ORG_WORDS = frozenset(
    [
        "forces",
        "force",
        "army",
        "armies",
        "brigade",
        "brigades",
        "battalion",
        "battalions",
        "corps",
        "guard",
        "guards",
        "party",
        "movement",
        "front",
        "organization",
        "organisation",
        "council",
        "committee",
        "ministry",
        "agency",
        "authority",
        "group",
        "union",
        "alliance",
        "coalition",
        "company",
        "bank",
        "university",
        "hospital",
        "center",
        "centre",
        "institute",
        "foundation",
        "commission",
        "court",
        "parliament",
        "assembly",
        "league",
        "network",
        "federation",
        "association",
        "society",
        "office",
        "department",
        "unit",
        "units",
        "division",
        "regiment",
        "militia",
        "militias",
        "resistance",
        "jihad",
        "command",
        "service",
        "services",
        "police",
        "defense",
        "defence",
        "navy",
        "administration",
        "government",
        "regime",
        "cabinet",
        "bureau",
        "trust",
        "fund",
        "program",
        "programme",
        "mission",
        "taskforce",
        "consortium",
        "club",
    ]
)
_PLACE_AFTER = frozenset(
    [
        "province",
        "city",
        "town",
        "village",
        "region",
        "district",
        "governorate",
        "county",
        "area",
        "camp",
        "crossing",
        "border",
        "base",
        "airport",
        "airbase",
        "valley",
        "mountains",
        "mountain",
        "river",
        "highway",
        "neighborhood",
        "neighbourhood",
        "strip",
        "peninsula",
        "island",
        "islands",
        "refugee",
    ]
)
_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|near|from|into|outside|around|across|the (?:town|city|village|province|region|"
    r"district|governorate|area|port|capital) of|(?:town|city|village|province|region) of)"
    r"(?: the)?(?: (?:north|south|east|west|central|northern|southern|eastern|western|northwestern|northeastern|"
    r"southwestern|southeastern|north-western|north-eastern|south-western|south-eastern|coastal|nearby|"
    r"neighbouring|neighboring|besieged|rebel-held|opposition-held|government-held|regime-held|occupied|"
    r"hard-hit|quake-hit|quake-stricken|war-torn|devastated|embattled|flooded|southeastern))*\s*$",
    re.IGNORECASE,
)
# "key groups, including Kataeb Hezbollah, al-Nujaba, and ...": every name of the list is a group
_LISTED_GROUPS = re.compile(
    r"\b(?:groups|factions|militias|organi[sz]ations|parties|movements|militant groups|armed groups)\b"
    r"[^.;:]{0,30}\b(?:including|such as|like|namely)\b[^.;:]*$",
    re.IGNORECASE,
)
_CITES = re.compile(
    r"\b(?:newspaper|agency|broadcaster|channel|network|daily|outlet|website|magazine|station|told|according to)\s*$",
    re.IGNORECASE,
)
_FOLLOWS_PLACE = frozenset(
    [
        "on",
        "in",
        "and",
        "after",
        "before",
        "for",
        "to",
        "from",
        "where",
        "when",
        "which",
        "that",
        "with",
        "as",
        "but",
        "while",
        "during",
        "since",
        "amid",
    ]
)
_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "abou", "umm", "de", "der", "van", "von", "da", "di"})
_CONNECTORS = frozenset({"of", "the", "for"})
_HYPHEN_SUFFIXES = frozenset(
    [
        "backed",
        "led",
        "based",
        "linked",
        "aligned",
        "allied",
        "affiliated",
        "controlled",
        "held",
        "run",
        "born",
        "made",
        "funded",
        "sponsored",
        "supported",
        "bound",
        "era",
        "style",
    ]
)
_ACRONYM = re.compile(r"^(?:[A-Z][A-Z0-9&-]{1,9}|(?:[A-Z]\.){2,4})$")
_TOKEN = re.compile(r"(?:[A-Z]\.){2,4}|[^\W_][\w'’.-]*[\w]|[^\W_]", re.UNICODE)
_AGE = re.compile(r"^\s*,\s*(?:aged\s+)?\d{1,3}\s*,")
_AGED_BEFORE = re.compile(r"\b\d{1,3}-(?:year|month)-old\s*$")
_IN_PARENS = re.compile(r"^\s*\(\s*([^()]{1,80}?)\s*\)")
_OR_ACRONYM = re.compile(r"^\s*,\s*or\s+(?:the\s+)?((?:[A-Z][A-Z0-9&-]{1,9})|(?:[A-Z]\.){2,4})\b")
_KNOWN_AS = re.compile(
    r"^\s*,?\s*(?:(?:also|more commonly|better|popularly|universally|widely|commonly|locally)\s+)?"
    r"(?:known|referred to)(?:\s+\w+){0,2}\s+as\s+(?:the\s+)?[\"“‘']?(?P<alias>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,4})",
)
_CALLED = re.compile(
    r"^\s*,?\s*(?:nicknamed|dubbed|called|styled)\s+(?:the\s+)?[\"“‘']?(?P<alias>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,4})"
)
_SOBRIQUET = re.compile(
    r"\b(?:known|referred to)(?:\s+(?:universally|widely|popularly|commonly|locally|simply))?\s+(?:by|under)\s+"
    r"(?:his|her|its|their|the)\s+(?:sobriquet|nickname|nom de guerre|kunya|alias|moniker|pseudonym)\s*,?\s*"
    r"[\"“‘']?(?P<alias>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3})"
)
_ARABIC_SCRIPT = re.compile(r"^[\u0600-\u06FF][\u0600-\u06FF\s]*$")


@dataclass
class Mention:
    """One name as one sentence writes it, and what the sentence says about it."""

    text: str  # as written, without titles, honorifics or a possessive "'s"
    sentence: int
    weight: float
    kind: str | None = None  # PERSON, ORGANISATION, PLACE, or None when the sentence does not say
    role: str | None = None  # STATE or MINOR when a title or apposition says so
    acronyms: list[str] = field(default_factory=list)  # defined for this name here: "(IRGC)", ", or UNRWA"
    aliases: list[str] = field(default_factory=list)  # other names given here: nicknames, Arabic script
    country: str | None = None  # a country this name is, or names the people or capital of


def find_mentions(document: Document, world: World) -> list[Mention]:
    """Every name mention of the document, in order."""
    if document.language == "ar":
        return list(_arabic_mentions(document))
    evidence = _capitalisation_evidence(document.sentences)
    mentions: list[Mention] = []
    for place in document.dateline_places:
        mentions.append(Mention(place, 0, 0.5, kind=PLACE, country=world.country_of(place)))
    for sentence in document.sentences:
        mentions.extend(_sentence_mentions(sentence, world, evidence))
    return [mention for mention in mentions if not world.is_outlet(mention.text) and mention.kind != OUTLET]


# --- English ------------------------------------------------------------------------------------------------


@dataclass
class _Token:
    text: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        first = self.text[0]
        return first.isupper() or (self.text[:3].lower() in ("al-", "el-") and len(self.text) > 4)


def _tokens(text: str) -> list[_Token]:
    return [_Token(found.group(), found.start(), found.end()) for found in _TOKEN.finditer(text)]


@dataclass(frozen=True)
class _Evidence:
    """What the document's own capitals say: folded words capitalised inside sentences, and words (and
    stems) it also writes in lower case."""

    capitalised: frozenset[str]
    lowercase: frozenset[str]


def _capitalisation_evidence(sentences: Sequence[Sentence]) -> _Evidence:
    """Words written with a capital somewhere other than a sentence's first word (outside Title Case), and
    never in lower case."""
    found: set[str] = set()
    lower: set[str] = set()
    for sentence in sentences:
        if sentence.title_case:
            continue
        tokens = _tokens(sentence.text)
        for number, token in enumerate(tokens):
            word = _strip_possessive(token.text)
            if number > 0 and token.capitalised and not _after_opening_quote(sentence.text, token.start):
                found.add(key(word))
            elif word[0].islower() and not word.lower().startswith(("al-", "el-")):
                lower.add(key(word))
                lower.add(_stem(key(word)))
    capitalised = frozenset(word for word in found if word not in lower and _stem(word) not in lower)
    return _Evidence(capitalised, frozenset(lower))


def _stem(word: str) -> str:
    """A crude English stem, to see "Rescuers" and "rescued" as one word ("rescu")."""
    for suffix in ("ings", "ing", "ers", "er", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _after_opening_quote(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return before.endswith(('"', "“", "‘", "'", ":", "(", "—", "–"))


_ABBREVIATION = re.compile(
    r"\b(Mr|Mrs|Ms|Messrs|Dr|Lt|Col|Gen|Sen|Rep|Gov|Capt|Maj|Sgt|Brig|Adm|Prof|St|Jr|Sr|Cpl|Pvt)\."
)


def _sentence_mentions(sentence: Sentence, world: World, evidence: _Evidence) -> Iterator[Mention]:
    text = _ABBREVIATION.sub(r"\1 ", sentence.text)
    tokens = _tokens(text)
    runs = list(_runs(text, tokens))
    if sentence.title_case:  # capitals prove nothing here: keep only words known as names
        runs = [piece for run in runs for piece in _known_pieces(run, world, evidence)]
    for run in runs:
        yield from _run_mentions(sentence, run, text, world, evidence)
    for found in _SOBRIQUET.finditer(text):
        # "known universally by his sobriquet X": an alias of the last person named before it
        before = [m for run in runs if run[-1].end <= found.start() for m in _run_names(run, text, world, evidence)]
        people = [name for name in before if name[1] != PLACE]
        if people:
            yield Mention(people[-1][0], sentence.index, sentence.weight, aliases=[found.group("alias").strip()])


def _known_pieces(run: list[_Token], world: World, evidence: _Evidence) -> Iterator[list[_Token]]:
    """The parts of a Title Case run made of words the document (or the world list) shows to be names."""
    piece: list[_Token] = []
    for token in run:
        word = _strip_possessive(token.text)
        if token.text.lower() in _CONNECTORS | _PARTICLES or _is_name_word(word, world, evidence):
            piece.append(token)
            if _is_possessive(token.text):
                yield _trim(piece)
                piece = []
        else:
            if _trim(piece):
                yield _trim(piece)
            piece = []
    if _trim(piece):
        yield _trim(piece)


def _runs(text: str, tokens: Sequence[_Token]) -> Iterator[list[_Token]]:
    """Runs of name-like tokens with nothing but spaces between them; connectors only inside a run."""
    run: list[_Token] = []
    for token in tokens:
        gap = text[run[-1].end : token.start] if run else ""
        joins = not gap.strip()
        lowered = token.text.lower()
        name_like = token.capitalised or _ACRONYM.match(token.text) is not None
        joins_name = lowered in _PARTICLES or lowered in _CONNECTORS
        if lowered == "in" and run and _org_name([part.text for part in run]):
            joins_name = True  # "Islamic Resistance in Iraq": an organisation's name may go on with "in"
        if run and joins and (name_like or joins_name):
            run.append(token)
            continue
        if run:
            yield _trim(run)
        run = [token] if name_like else []
        if run and _is_possessive(token.text):
            yield run
            run = []
    if run:
        yield _trim(run)


def _trim(run: list[_Token]) -> list[_Token]:
    while run and run[-1].text.lower() in _CONNECTORS | _PARTICLES | {"in"}:
        run = run[:-1]
    return run


def _run_mentions(
    sentence: Sentence, run: list[_Token], text: str, world: World, evidence: _Evidence
) -> Iterator[Mention]:
    names = _run_names(run, text, world, evidence)
    for index, (name, kind, role, end) in enumerate(names):
        after = text[end:]
        mention = Mention(name, sentence.index, sentence.weight, kind=kind, role=role)
        mention.country = world.country_of(name)
        if index == len(names) - 1:
            _read_after(mention, after)
        if mention.role is None:
            found = _role_before(text[: _start_of(run, name)])
            if (found is not None and mention.kind != PLACE) or found == MINOR:
                mention.role, mention.kind = (None if found == PERSON else found), PERSON
        yield mention


def _start_of(run: list[_Token], name: str) -> int:
    first = name.split(maxsplit=1)[0] if name else ""
    for token in run:
        if token.text.startswith(first):
            return token.start
    return run[0].start


def _read_after(mention: Mention, after: str) -> None:
    """What follows a name: "(IRGC)", "(الحشد الشعبي)", ", or UNRWA", ", also known as X", ", 60,", ", a spokesman"."""
    parens = _IN_PARENS.match(after)
    if parens:
        inside = parens.group(1).strip()
        if _ACRONYM.match(inside):
            mention.acronyms.append(inside)
        elif _ARABIC_SCRIPT.match(inside) or (
            inside[:1].isupper() and len(inside.split()) <= 6 and not any(ch.isdigit() for ch in inside)
        ):
            mention.aliases.append(inside)
        after = after[parens.end() :]
    acronym = _OR_ACRONYM.match(after)
    if acronym:
        mention.acronyms.append(acronym.group(1))
    for pattern in (_KNOWN_AS, _CALLED):
        alias = pattern.match(after)
        if alias:
            mention.aliases.append(alias.group("alias").strip())
    if _AGE.match(after):
        mention.role = MINOR
        mention.kind = mention.kind or PERSON
    appositive = re.match(r"^\s*,\s*(?:a|an|the|his|her|its)?\s*((?:[\w.'’-]+\s+){0,5}?[\w.'’-]+)", after)
    if appositive and mention.role is None:
        words = appositive.group(1).lower().split()
        role = _role_in(words, at_end=False)
        if role is not None:
            mention.kind = PERSON
            mention.role = None if role == PERSON else role
    if mention.role is None and re.match(r"^\s*(?:'s\s+|’s\s+)?administration\b", after):
        mention.role = STATE  # "the Biden administration": a head of government
        mention.kind = PERSON


def _role_before(before: str) -> str | None:
    """The role the words just before a name give it ("spokesman", "foreign minister"), else None."""
    if _AGED_BEFORE.search(before):
        return MINOR
    words = re.findall(r"[\w.'’-]+", before.lower())[-5:]
    return _role_in(words, at_end=True)


def _role_in(words: Sequence[str], *, at_end: bool) -> str | None:
    """STATE or MINOR when `words` end (at_end) or start with a role phrase of world.toml (PERSON for a role
    that says only that it is a person: "politician", "commander")."""
    from monitor.seed.lexicon import world

    roles = world()
    for length in (3, 2, 1):
        if len(words) < length:
            continue
        phrase = " ".join(words[-length:] if at_end else words[:length])
        phrase = phrase.rstrip(",")
        if phrase.rstrip(".") + "." in roles.state_roles:
            phrase = phrase.rstrip(".") + "."
        if phrase in roles.minor_roles:
            return MINOR
        if phrase in roles.state_roles:
            return STATE
    if not at_end:  # "a senior Shiite politician", "the foreign affairs advisor of ...": a role anywhere early
        for word in words[:5]:
            if word.rstrip(",") in roles.minor_roles:
                return MINOR
        for word in words[:5]:
            if word.rstrip(",") in roles.person_roles:
                return PERSON
    elif words and words[-1].rstrip(",") in roles.person_roles:
        return PERSON
    return None


def _run_names(
    run: list[_Token], text: str, world: World, evidence: _Evidence
) -> list[tuple[str, str | None, str | None, int]]:
    """(name, kind, role, end offset) for each name in a run, after the splits of the module docstring."""
    words = [token.text for token in run]
    if not words:
        return []
    results: list[tuple[str, str | None, str | None, int]] = []
    pieces = _split_possessives(run)
    for piece in pieces:
        results.extend(_piece_names(piece, text, world, evidence))
    return results


def _split_possessives(run: list[_Token]) -> list[list[_Token]]:
    """ "Iran's Revolutionary Guards" is two names; "Schneider Children's Medical Center" is one."""
    pieces: list[list[_Token]] = [[]]
    for token in run:
        pieces[-1].append(token)
        if _is_possessive(token.text) and commonness(_strip_possessive(token.text)) < COMMON_NOUN:
            pieces.append([])
    return [piece for piece in pieces if piece]


def _piece_names(
    piece: list[_Token], text: str, world: World, evidence: _Evidence
) -> list[tuple[str, str | None, str | None, int]]:
    tokens = list(piece)
    # "Israel-Hamas", "Iran-backed": hyphenated names are split where each part stands alone
    expanded: list[tuple[str, _Token]] = []
    for token in tokens:
        parts = _strip_possessive(token.text).split("-")
        if len(parts) > 1 and parts[-1].lower() in _HYPHEN_SUFFIXES:
            expanded.append(("-".join(parts[:-1]), token))
            break
        if len(parts) > 1 and all(part[:1].isupper() for part in parts) and all(_stands_alone(p, world) for p in parts):
            for part in parts:
                expanded.append((part, token))
            continue
        expanded.append((_strip_possessive(token.text), token))
    words = [word for word, _ in expanded]
    first_token = piece[0]
    at_start = (
        first_token.start == 0 or _after_opening_quote(text, first_token.start) or not text[: first_token.start].strip()
    )
    results: list[tuple[str, str | None, str | None, int]] = []
    role: str | None = None
    kind: str | None = None
    # split at a role title inside the run: "Turkish President | Recep Tayyip Erdogan"
    lowered = [word.lower() for word in words]
    for length in (4, 3, 2, 1):
        for index in range(len(words) - length):
            phrase = " ".join(lowered[index : index + length])
            if phrase.rstrip(".") + "." in world.state_roles | world.minor_roles | world.honorifics:
                phrase = phrase.rstrip(".") + "."
            if phrase in world.state_roles or phrase in world.minor_roles or phrase in world.honorifics:
                before, after = words[:index], words[index + length :]
                if not after or not after[0][:1].isupper():
                    continue
                role = STATE if phrase in world.state_roles else MINOR if phrase in world.minor_roles else None
                kind = PERSON
                results.extend(_clean_names(before, text, piece, world, evidence, at_start, None, None))
                results.extend(_clean_names(after, text, piece, world, evidence, False, kind, role))
                return results
    return _clean_names(words, text, piece, world, evidence, at_start, kind, role)


def _stands_alone(part: str, world: World) -> bool:
    return world.country_of(part) is not None or world.is_body(part) or world.is_region(part) or len(part) >= 4


def _clean_names(
    words: list[str],
    text: str,
    piece: list[_Token],
    world: World,
    evidence: _Evidence,
    at_start: bool,
    kind: str | None,
    role: str | None,
) -> list[tuple[str, str | None, str | None, int]]:
    """Drop leading stopwords, sentence-initial ordinary words, demonyms and honorifics; name what is left."""
    results: list[tuple[str, str | None, str | None, int]] = []
    words = list(words)
    end = piece[-1].end
    while words:
        head = words[0]
        lowered = head.lower()
        if lowered in world.stopwords or lowered in _CONNECTORS or lowered in _PARTICLES - {"al", "el", "abu", "abou"}:
            words.pop(0)
            at_start = False
            continue
        if lowered in world.honorifics or lowered.rstrip(".") in world.honorifics:
            words.pop(0)
            kind = kind or PERSON
            at_start = False
            continue
        if at_start and not _is_name_word(head, world, evidence):
            words.pop(0)
            at_start = False
            continue
        demonym = world.demonym_country(head)
        rest = words[1:]
        if demonym is not None and rest and not _org_name(rest):
            results.append((head, None, None, end))  # "Turkish troops": a mention of Turkey
            words.pop(0)
            at_start = False
            continue
        break
    if not words:
        return results
    name = " ".join(words)
    if len(words) == 1 and words[0].isupper() and len(words[0]) > 1 and not _ACRONYM.match(words[0]):
        return results
    if kind is None:
        kind = _kind_of(words, text, piece, world)
    results.append((name, kind, role, end))
    return results


def _is_name_word(word: str, world: World, evidence: _Evidence) -> bool:
    """Whether a capitalised word where capitals prove nothing is a name: seen capitalised elsewhere, known,
    an acronym, or rare in ordinary text."""
    folded = key(word)
    if not folded:
        return False
    if folded in evidence.capitalised or world.country_of(word) or world.is_body(word) or world.is_region(word):
        return True
    if folded in world.given_names:
        return True
    if _ACRONYM.match(word):
        return True
    return commonness(word) < RARE and folded not in evidence.lowercase and _stem(folded) not in evidence.lowercase


def _org_name(words: Sequence[str]) -> bool:
    return any(key(word) in _ORG_WORDS for word in words)


def _kind_of(words: list[str], text: str, piece: list[_Token], world: World) -> str | None:
    name = " ".join(words)
    if world.country_of(name) or world.is_region(name):
        return PLACE
    if world.is_body(name) or _org_name(words) or (len(words) == 1 and _ACRONYM.match(words[0])):
        return ORGANISATION
    before = text[: piece[0].start]
    after_words = text[piece[-1].end :].split()
    follower = after_words[0].strip(".,;:!?\"'”’)").lower() if after_words else ""
    if follower in world.outlet_words or _CITES.search(before):
        return OUTLET
    if _LISTED_GROUPS.search(before):
        return ORGANISATION
    if follower in _PLACE_AFTER:
        return PLACE
    if _PLACE_BEFORE.search(before) and (not follower or follower in _FOLLOWS_PLACE or not after_words[0][0].isalpha()):
        return PLACE
    if len(words) >= 2 and fold(words[0]) in world.given_names and not _org_name(words):
        return PERSON
    return None


def _is_possessive(word: str) -> bool:
    return word.endswith(("'s", "’s", "s'", "s’")) and len(word) > 2


def _strip_possessive(word: str) -> str:
    if word.endswith(("'s", "’s")):
        return word[:-2]
    if word.endswith(("s'", "s’")):
        return word[:-1]
    return word


# --- Arabic ---------------------------------------------------------------------------------------------------

_ARABIC_WORD = re.compile(r"[\u0621-\u064A\u0660-\u0669\u0671-\u06D3]+")
_AR_ORG_TRIGGERS = frozenset(
    [
        "حركة",
        "حزب",
        "جماعة",
        "كتائب",
        "منظمة",
        "ميليشيا",
        "ميليشيات",
        "فصائل",
        "فصيل",
        "قوات",
        "جيش",
        "تنظيم",
        "هيئة",
        "سرايا",
        "لواء",
        "جبهة",
        "تحالف",
        "ائتلاف",
    ]
)
_AR_PERSON_TRIGGERS = frozenset(
    ["الرئيس", "الوزير", "القائد", "زعيم", "الأمين", "الشيخ", "السيد", "اللواء", "العميد", "الجنرال"]
)
_AR_MINOR_TRIGGERS = frozenset(["المتحدث", "الناطق", "مراسل", "الصحفي", "المحلل", "الخبير"])
_AR_PLACE_TRIGGERS = frozenset(
    ["مدينة", "محافظة", "بلدة", "قرية", "منطقة", "ولاية", "إقليم", "قضاء", "ناحية", "مخيم", "معبر", "قاعدة", "مطار"]
)
AR_STOPWORDS = frozenset(
    [
        "في",
        "من",
        "على",
        "إلى",
        "الى",
        "عن",
        "أن",
        "إن",
        "ان",
        "أو",
        "او",
        "ثم",
        "قد",
        "لقد",
        "كان",
        "كانت",
        "يكون",
        "التي",
        "الذي",
        "الذين",
        "هذا",
        "هذه",
        "ذلك",
        "تلك",
        "هناك",
        "هنا",
        "قال",
        "قالت",
        "أكد",
        "أضاف",
        "أعلن",
        "أعلنت",
        "مع",
        "بعد",
        "قبل",
        "خلال",
        "بين",
        "حول",
        "ضد",
        "عند",
        "منذ",
        "حتى",
        "كما",
        "لكن",
        "لم",
        "لن",
        "ما",
        "لا",
        "كل",
        "بعض",
        "غير",
        "أي",
        "أيضا",
        "اليوم",
        "أمس",
        "يوم",
        "العام",
        "عام",
        "الأحد",
        "الاثنين",
        "الثلاثاء",
        "الأربعاء",
        "الخميس",
        "الجمعة",
        "السبت",
        "وفق",
        "وفقا",
        "فيما",
        "بينما",
        "آخرون",
        "آخر",
        "أخرى",
        "إنه",
        "إنها",
        "أنه",
        "أنها",
        "لها",
        "له",
        "لهم",
        "عليه",
        "عليها",
        "فيه",
        "فيها",
        "منه",
        "منها",
        "إلى",
        "إليه",
        "حيث",
        "ومن",
        "وفي",
        "وقد",
        "وقال",
        "وقالت",
        "وأكد",
        "وأضاف",
        "وأعلن",
        "يزال",
        "تزال",
        "سابقة",
        "سابق",
        "بسبب",
        "أدى",
        "تجاوز",
        "عدد",
    ]
)
_AR_RARE = 3.0
"""An Arabic word used twice or more and rarer than this in ordinary Arabic is a name candidate (Zipf)."""
_PROCLITICS = ("وال", "بال", "فال", "كال", "لل", "و", "ف", "ب", "ل", "ك")


def strip_arabic_clitics(word: str, known: frozenset[str] = frozenset()) -> str:
    """An Arabic word without a leading conjunction or preposition (و ف ب ل ك), when that is what it has.

    Attached to the article ("والحشد", "بالسلاح", "للحشد") the prefix is certain; before any other letter
    ("ليبيا" starts with ل, "فيضانات" with ف) it is taken off only when `known` (the document's or the rules'
    other words) has the word without it.
    """
    for prefix in ("وال", "بال", "فال", "كال"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return "ال" + word[len(prefix) :]
    if word.startswith("لل") and len(word) >= 4:
        return "ال" + word[2:]
    if word[:1] in "وفبلك" and len(word) >= 4:
        rest = word[1:]
        if rest in known:
            return rest
        if word[:1] in "وف" and rest[:1] in "بلك" and rest[1:] in known:
            return rest[1:]
    return word


def _arabic_mentions(document: Document) -> Iterable[Mention]:
    raw = [_ARABIC_WORD.findall(sentence.text) for sentence in document.sentences]
    vocabulary = frozenset(word for words in raw for word in words) | ARABIC_COUNTRIES.keys() | ARABIC_DEMONYMS.keys()
    event_words = thesaurus()
    counts: dict[str, set[int]] = {}
    for sentence, words in zip(document.sentences, raw, strict=True):
        for word in words:
            counts.setdefault(strip_arabic_clitics(word, vocabulary), set()).add(sentence.index)
    for sentence, words in zip(document.sentences, raw, strict=True):
        stems = [strip_arabic_clitics(word, vocabulary) for word in words]
        index = 0
        while index < len(stems):
            word = stems[index]
            pair = " ".join(stems[index : index + 2])
            country_form = pair if pair in ARABIC_COUNTRIES else word
            country = ARABIC_COUNTRIES.get(country_form) or ARABIC_DEMONYMS.get(country_form)
            if country:
                yield Mention(country_form, sentence.index, sentence.weight, kind=PLACE, country=country)
                index += len(country_form.split())
                continue
            triggered = _arabic_triggered(stems, index, sentence)
            if triggered is not None:
                mention, used = triggered
                yield mention
                index += used
                continue
            if (
                word not in AR_STOPWORDS
                and fold(word) not in event_words
                and len(word) >= 3
                and len(counts.get(word, ())) >= 2
                and commonness(word, "ar") < _AR_RARE
            ):
                yield Mention(word, sentence.index, sentence.weight)  # a rare word the story repeats: a name
            index += 1


def _arabic_triggered(stems: list[str], index: int, sentence: Sentence) -> tuple[Mention, int] | None:
    """A name after a word that introduces one ("حركة حماس", "مدينة درنة", "الرئيس ...")."""
    word = stems[index]
    if word not in _AR_ORG_TRIGGERS | _AR_PERSON_TRIGGERS | _AR_PLACE_TRIGGERS | _AR_MINOR_TRIGGERS:
        return None
    limit = 1 if word in _AR_PLACE_TRIGGERS else 3
    name_words = []
    for follower in stems[index + 1 : index + 1 + limit]:
        if follower in AR_STOPWORDS or follower in ARABIC_COUNTRIES or follower in ARABIC_DEMONYMS:
            break
        name_words.append(follower)
    if not name_words:
        return None
    if word in _AR_ORG_TRIGGERS:
        return Mention(" ".join([word, *name_words]), sentence.index, sentence.weight, kind=ORGANISATION), 1 + len(
            name_words
        )
    if word in _AR_PLACE_TRIGGERS:
        return Mention(name_words[0], sentence.index, sentence.weight, kind=PLACE), 2
    role = MINOR if word in _AR_MINOR_TRIGGERS else STATE if word in ("الرئيس", "الوزير") else None
    return Mention(" ".join(name_words), sentence.index, sentence.weight, kind=PERSON, role=role), 1 + len(name_words)


def arabic_words(text: str, known: frozenset[str] = frozenset()) -> list[str]:
    """The Arabic words of `text`, folded, leading conjunctions and prepositions removed where `known` shows them."""
    return [fold(strip_arabic_clitics(word, known)) for word in _ARABIC_WORD.findall(text)]


def arabic_vocabulary(document: Document) -> frozenset[str]:
    """Every Arabic word of the document as written, and the countries' names: the evidence
    `strip_arabic_clitics` needs."""
    words = frozenset(word for sentence in document.sentences for word in _ARABIC_WORD.findall(sentence.text))
    return words | ARABIC_COUNTRIES.keys() | ARABIC_DEMONYMS.keys()
