"""Rule files -> a validated `RuleSet`: the watch list the matcher compiles (see docs/rules.md).

Every `*.toml` file of the rules directory is read, in name order, and checked strictly: unknown keys, wrong
types, unknown term ids, bad severity or fuzziness, ids defined twice (ids are unique across all files), terms
with nothing to match, aliases that fold to nothing or to a common word, rules that can never match, and the
shape of `examples` tables. Every problem is a `RuleError` located at `path:line` and naming the rule or term;
`check_rules` returns all of them, `load_rules` raises the first. Reads files; no other I/O.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from monitor.errors import RuleError
from monitor.model import SEVERITIES
from monitor.normalize import OPTIONAL_ARTICLES, fold
from monitor.tomlfile import load_toml, parse_toml

if TYPE_CHECKING:
    from monitor.match import Matcher

FUZZINESS = ("off", "strict", "loose")
"""Fuzziness levels of a rule, least to most tolerant (see docs/rules.md for the exact limits)."""

DEFAULT_SEVERITY = "medium"
DEFAULT_FUZZINESS = "strict"
PREFIX_MIN_LETTERS = 4
"""A phrase ending in "*" matches words starting with its last word, which needs at least this many letters."""

_TERM_SECTIONS = {"actors": "actor", "themes": "theme"}
_TERM_KEYS = {
    "actor": ("name", "aliases", "acronyms", "exclude", "notes"),
    "theme": ("name", "phrases", "acronyms", "exclude", "notes"),
}
_FORMS_KEY = {"actor": "aliases", "theme": "phrases"}
_RULE_KEYS = (
    "description",
    "severity",
    "fuzziness",
    "any",
    "all",
    "within",
    "same_sentence",
    "exclude",
    "targets",
    "updates",
    "similar",
    "examples",
    "notes",
)
_STORY_KEYS = ("name", "text", "file", "threshold", "notes")
_EXAMPLE_KEYS = ("match", "no_match")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# Aliases that fold to one of these words would fire on ordinary English ("US" -> "us"): they belong in
# `acronyms`, which are matched case-sensitively on the original text.
COMMON_WORDS = frozenset(
    {
        *("a", "am", "an", "and", "are", "as", "at", "be", "but", "by", "do", "for", "from", "had", "has", "he"),
        *("her", "his", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our"),
        *("so", "than", "that", "the", "their", "them", "they", "this", "to", "up", "us", "was", "we", "were"),
        *("who", "will", "with", "you"),
    }
)


@dataclass(frozen=True)
class Term:
    """An actor or a theme: the names or phrases the matcher looks for, and the context that vetoes a hit."""

    id: str
    kind: str  # "actor" or "theme"
    name: str  # display name (the id when the file gives none)
    aliases: tuple[str, ...]  # actors: `aliases`; themes: `phrases` (as written in the file)
    acronyms: tuple[str, ...]  # case-sensitive, whole words, matched on the original text
    exclude: tuple[str, ...]  # phrases that veto this term's hits in the same sentence
    location: str  # "rules/militias.toml:12"
    forms: tuple[str, ...] = ()  # what is matched (besides acronyms): an actor's name, then aliases/phrases
    notes: str = ""


@dataclass(frozen=True)
class Example:
    """A headline written next to a rule that the rule must (or must not) fire on."""

    text: str
    should_match: bool
    location: str = ""


@dataclass(frozen=True)
class Rule:
    """A watch rule: which terms must be found (and how close together) for an entry to alert."""

    name: str
    description: str
    severity: str
    fuzziness: str  # "off" | "strict" | "loose"
    any_of: tuple[str, ...]  # at least one of these term ids
    all_of: tuple[tuple[str, ...], ...]  # and one term of each group
    within: int  # >0: the needed hits within this many words of each other (same field)
    same_sentence: bool  # the needed hits in one sentence (same field)
    exclude: tuple[str, ...]  # phrases (or term ids) that veto the rule anywhere in the entry
    targets: tuple[str, ...]  # target names; empty: all targets
    examples: tuple[Example, ...]
    location: str
    updates: bool = False  # later reports of a story this rule alerted on alert again (monitor.stories)
    similar: str = ""  # a [stories.ID]: the item must also read this close to its article (monitor.semantic)

    @property
    def groups(self) -> tuple[tuple[str, ...], ...]:
        """The needed groups: `any` as one group (when given), then each `all` group."""
        return ((self.any_of,) if self.any_of else ()) + self.all_of

    @property
    def term_ids(self) -> tuple[str, ...]:
        """Every term id the rule needs, in order, without repeats."""
        return tuple(dict.fromkeys(term for group in self.groups for term in group))


@dataclass(frozen=True)
class Story:
    """A story's article, for rules that ask an item to read close to it (`similar`, monitor.semantic)."""

    id: str
    name: str
    text: str  # the article (from `text`, or the file `file` names)
    threshold: float  # cosine similarity from which an item reads close enough (0-1)
    location: str


@dataclass(frozen=True)
class RuleSet:
    """All rules and terms of a rules directory, validated."""

    terms: Mapping[str, Term]
    rules: tuple[Rule, ...]
    files: tuple[Path, ...]
    stories: Mapping[str, Story] = field(default_factory=lambda: MappingProxyType({}))

    def rule(self, name: str) -> Rule | None:
        """The rule called `name`, if any."""
        return next((rule for rule in self.rules if rule.name == name), None)


@dataclass(frozen=True)
class ExampleResult:
    """One example run against its rule: `passed` when the rule fired exactly when it should."""

    rule: str
    text: str
    should_match: bool
    matched: bool
    location: str

    @property
    def passed(self) -> bool:
        """True when the outcome is the expected one."""
        return self.matched == self.should_match


def shipped_rules_dir() -> Path:
    """The rules shipped with monitor: the repo's rules/ directory, installed as `monitor.shipped_rules`."""
    try:
        resource = importlib.resources.files("monitor.shipped_rules")
        if isinstance(resource, Path) and resource.is_dir():
            return resource
        spec = importlib.util.find_spec("monitor.shipped_rules")
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations)))
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    return Path(__file__).resolve().parent.parent / "rules"


def load_rules(directory: Path) -> RuleSet:
    """Read and validate every *.toml file of `directory`; raise the first problem as a RuleError."""
    ruleset, errors = _load(Path(directory))
    if errors:
        first = errors[0]
        if len(errors) > 1:
            more = f"{len(errors) - 1} more problem(s): run `monitor rules check` to list them all"
            first.hint = f"{first.hint}; {more}" if first.hint else more
        raise first
    assert ruleset is not None
    return ruleset


def rules_from_text(text: str, path: Path) -> tuple[RuleSet | None, list[RuleError]]:
    """Validate one rule file given as text (as if read from `path`): the rule set, or every problem. Pure."""
    loader = _Loader()
    loader.load_text(path, text)
    return _finish(loader, (path,))


def check_rules(directory: Path) -> list[RuleError]:
    """Every problem in the rule files of `directory` (empty when they are valid), in file and line order."""
    return _load(Path(directory))[1]


def run_examples(ruleset: RuleSet, matcher: Matcher) -> list[ExampleResult]:
    """Run every rule's examples as entry titles; an example matched when its own rule fired on it."""
    results = []
    for rule in ruleset.rules:
        for example in rule.examples:
            fired = {found.rule for found in matcher.match_text(example.text)}
            results.append(
                ExampleResult(
                    rule=rule.name,
                    text=example.text,
                    should_match=example.should_match,
                    matched=rule.name in fired,
                    location=example.location or rule.location,
                )
            )
    return results


# --- loading -------------------------------------------------------------------------------------------------


_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")
_NAME_PART = r"""\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*"""
_TABLE_NAME = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART})*$")
_STRINGS_AND_COMMENT = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|#.*$""")


def _bracket_balance(line: str) -> int:
    """Opened minus closed brackets and braces on a line, strings and comments left out."""
    code = _STRINGS_AND_COMMENT.sub("", line)
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


_DOTTED_PART = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([^.\s"']+))\s*(?:\.|$)""")


class _File:
    """One rule file's text with an index of where each table and key is written (for `path:line`)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.headers: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        table = ""
        depth = 0  # open brackets of a multi-line array or inline table
        for number, line in enumerate(text.splitlines(), start=1):
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            header = _HEADER.match(line)
            if header and _TABLE_NAME.match(header.group(1)):
                table = ".".join(
                    next(group for group in part.groups() if group is not None)
                    for part in _DOTTED_PART.finditer(header.group(1))
                    if any(group is not None for group in part.groups())
                )
                self.headers.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                name = next(group for group in key.groups() if group is not None)
                self.keys.setdefault((table, name), number)
                depth = max(_bracket_balance(line), 0)

    def line(self, table: str, key: str | None = None) -> str:
        """`path:line` of `key` in `[table]` (or of the table), also when the table is written inline."""
        number = self.keys.get((table, key)) if key is not None else None
        if number is None:
            number = self.headers.get(table)
        if number is None and "." in table:
            parent, _, child = table.rpartition(".")
            number = self.keys.get((parent, child)) or self.headers.get(parent)
        return f"{self.path}:{number}" if number else str(self.path)


@dataclass
class _PendingRule:
    rule: Rule
    file: _File
    table: str


@dataclass
class _Loader:
    errors: list[RuleError] = field(default_factory=list)
    terms: dict[str, Term] = field(default_factory=dict)
    broken_terms: set[str] = field(default_factory=set)  # defined but invalid: already reported
    rules: dict[str, _PendingRule] = field(default_factory=dict)
    stories: dict[str, Story] = field(default_factory=dict)

    def error(self, message: str, where: str, hint: str | None = None) -> None:
        self.errors.append(RuleError(message, location=where, hint=hint))

    # files

    def load_file(self, path: Path) -> None:
        try:
            document, text = load_toml(path, RuleError)
        except RuleError as exc:
            self.errors.append(exc)
            return
        self.load_document(path, text, document)

    def load_text(self, path: Path, text: str) -> None:
        try:
            document = parse_toml(text, path, RuleError)
        except RuleError as exc:
            self.errors.append(exc)
            return
        self.load_document(path, text, document)

    def load_document(self, path: Path, text: str, document: dict[str, Any]) -> None:
        file = _File(path, text)
        for section, value in document.items():
            if section not in (*_TERM_SECTIONS, "rules", "stories"):
                self.error(
                    f"unknown section {section!r}",
                    _section_line(file, section),
                    hint="a rule file has [actors.ID], [themes.ID], [stories.ID] and [rules.ID] tables",
                )
                continue
            if not isinstance(value, dict):
                self.error(f"{section!r} must be a table of ids", _section_line(file, section))
                continue
            for item_id, body in value.items():
                table = f"{section}.{item_id}"
                if not _ID.match(item_id):
                    self.error(
                        f"bad id {item_id!r} in [{section}]",
                        file.line(table),
                        hint="ids are letters, digits, '-' and '_', e.g. kataib-hezbollah",
                    )
                    continue
                if section == "rules":
                    self.load_rule(file, item_id, body)
                elif section == "stories":
                    self.load_story(file, item_id, body)
                else:
                    self.load_term(file, _TERM_SECTIONS[section], item_id, body)

    # terms

    def load_term(self, file: _File, kind: str, term_id: str, body: Any) -> None:
        table = f"{kind}s.{term_id}"
        where = file.line(table)
        label = f"{kind} {term_id!r}"
        if not isinstance(body, dict):
            self.error(f"{label} must be a table", where)
            return
        ok = self.check_keys(file, table, label, body, _TERM_KEYS[kind])
        name = self.string(file, table, label, body, "name")
        forms_key = _FORMS_KEY[kind]
        aliases = self.strings(file, table, label, body, forms_key)
        acronyms = self.strings(file, table, label, body, "acronyms")
        exclude = self.strings(file, table, label, body, "exclude")
        notes = self.string(file, table, label, body, "notes")
        if name is None or aliases is None or acronyms is None or exclude is None or notes is None or not ok:
            self.broken_terms.add(term_id)
            return
        forms = tuple(dict.fromkeys(([name] if name and kind == "actor" else []) + list(aliases)))
        if not forms and not acronyms:
            what = "a name, aliases or acronyms" if kind == "actor" else "phrases or acronyms"
            self.error(f"{label} has nothing to match: give it {what}", where)
            self.broken_terms.add(term_id)
            return
        valid = True
        for form in forms:
            key = "name" if form == name and kind == "actor" else forms_key
            problem = form_problem(form)
            if problem:
                self.error(f"{label}: {problem}", file.line(table, key), hint=_form_hint(problem))
                valid = False
        for acronym in acronyms:
            if not any(char.isalnum() for char in acronym) or any(char.isspace() for char in acronym):
                self.error(
                    f"{label}: acronym {acronym!r} must be one word with letters or digits",
                    file.line(table, "acronyms"),
                )
                valid = False
        folded_forms = {_match_key(form): form for form in forms}
        for phrase in exclude:
            problem = form_problem(phrase, allow_prefix=False)
            if problem:
                self.error(f"{label}: exclude {problem}", file.line(table, "exclude"), hint=_exclude_hint(problem))
                valid = False
            elif _match_key(phrase) in folded_forms:
                self.error(
                    f"{label}: exclude phrase {phrase!r} is also its alias {folded_forms[_match_key(phrase)]!r}, "
                    "so it would veto every hit of that alias",
                    file.line(table, "exclude"),
                )
                valid = False
        if term_id in self.terms:
            first = self.terms[term_id]
            self.error(f"{label} is already defined as {first.kind} at {first.location}", where)
            return
        if not valid:
            self.broken_terms.add(term_id)
            return
        self.terms[term_id] = Term(
            id=term_id,
            kind=kind,
            name=name or term_id,
            aliases=aliases,
            acronyms=acronyms,
            exclude=exclude,
            location=where,
            forms=forms,
            notes=notes,
        )

    # stories

    def load_story(self, file: _File, story_id: str, body: Any) -> None:
        table = f"stories.{story_id}"
        where = file.line(table)
        label = f"story {story_id!r}"
        if not isinstance(body, dict):
            self.error(f"{label} must be a table", where)
            return
        ok = self.check_keys(file, table, label, body, _STORY_KEYS)
        name = self.string(file, table, label, body, "name")
        text = self.string(file, table, label, body, "text")
        source = self.string(file, table, label, body, "file")
        self.string(file, table, label, body, "notes")
        threshold = body.get("threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
            self.error(
                f"{label}: `threshold` must be a number between 0 and 1",
                file.line(table, "threshold"),
                hint="the cosine similarity from which an item reads close to the story, e.g. 0.5",
            )
            return
        if not ok or name is None or text is None or source is None:
            return
        if bool(text) == bool(source):
            self.error(f"{label} needs the article as `text` or as `file` (one of the two)", where)
            return
        if source:
            path = (file.path.parent / source).resolve()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                self.error(f"{label}: cannot read `file` {source!r}: {error}", file.line(table, "file"))
                return
        if story_id in self.stories:
            self.error(f"{label} is already defined at {self.stories[story_id].location}", where)
            return
        self.stories[story_id] = Story(story_id, name or story_id, text, float(threshold), where)

    # rules

    def load_rule(self, file: _File, name: str, body: Any) -> None:
        table = f"rules.{name}"
        where = file.line(table)
        label = f"rule {name!r}"
        if not isinstance(body, dict):
            self.error(f"{label} must be a table", where)
            return
        ok = self.check_keys(file, table, label, body, _RULE_KEYS)
        description = self.string(file, table, label, body, "description")
        severity = self.choice(file, table, label, body, "severity", SEVERITIES, DEFAULT_SEVERITY)
        fuzziness = self.choice(file, table, label, body, "fuzziness", FUZZINESS, DEFAULT_FUZZINESS)
        any_of = self.strings(file, table, label, body, "any")
        all_of = self.groups(file, table, label, body)
        within = self.within(file, table, label, body)
        same_sentence = self.boolean(file, table, label, body, "same_sentence")
        exclude = self.strings(file, table, label, body, "exclude")
        targets = self.strings(file, table, label, body, "targets")
        updates = self.boolean(file, table, label, body, "updates")
        similar = self.string(file, table, label, body, "similar")
        examples = self.examples(file, table, label, body)
        self.string(file, table, label, body, "notes")
        if (
            not ok
            or updates is None
            or similar is None
            or description is None
            or severity is None
            or fuzziness is None
            or any_of is None
            or all_of is None
            or within is None
            or same_sentence is None
            or exclude is None
            or targets is None
            or examples is None
        ):
            return
        if name in self.rules:
            self.error(f"{label} is already defined at {self.rules[name].rule.location}", where)
            return
        rule = Rule(
            name=name,
            description=description,
            severity=severity,
            fuzziness=fuzziness,
            any_of=any_of,
            all_of=all_of,
            within=within,
            same_sentence=same_sentence,
            exclude=exclude,
            targets=targets,
            examples=examples,
            location=where,
            updates=updates,
            similar=similar,
        )
        self.rules[name] = _PendingRule(rule, file, table)

    def check_references(self, pending: _PendingRule) -> bool:
        """Unknown term ids and rules that can never match (needs every term loaded)."""
        rule, file, table = pending.rule, pending.file, pending.table
        label = f"rule {rule.name!r}"
        ok = True
        for key, ids in (("any", rule.any_of), ("all", tuple(t for group in rule.all_of for t in group))):
            for term_id in ids:
                if term_id in self.broken_terms and term_id not in self.terms:
                    ok = False
                elif term_id not in self.terms:
                    close = difflib.get_close_matches(term_id, list(self.terms), n=1)
                    self.error(
                        f"{label}: unknown term {term_id!r} in `{key}`",
                        file.line(table, key),
                        hint=f"did you mean {close[0]!r}?" if close else "define it under [actors.ID] or [themes.ID]",
                    )
                    ok = False
        if not ok:
            return False
        if rule.similar and rule.similar not in self.stories:
            close = difflib.get_close_matches(rule.similar, list(self.stories), n=1)
            self.error(
                f"{label}: unknown story {rule.similar!r} in `similar`",
                file.line(table, "similar"),
                hint=f"did you mean {close[0]!r}?" if close else "define it under [stories.ID]",
            )
            return False
        if not rule.any_of and not rule.all_of and not rule.similar:
            self.error(f"{label} can never match: it needs `any`, `all` or `similar`", rule.location)
            return False
        excluded = {entry for entry in rule.exclude if entry in self.terms}
        for key, group in [("any", rule.any_of)] * bool(rule.any_of) + [("all", g) for g in rule.all_of]:
            if not group:
                self.error(f"{label} can never match: an empty group in `all`", file.line(table, key))
                return False
            if set(group) <= excluded:
                self.error(
                    f"{label} can never match: {', '.join(repr(t) for t in group)} both needed (`{key}`) and excluded",
                    file.line(table, "exclude"),
                )
                return False
        for phrase in rule.exclude:
            if phrase in self.terms:
                continue
            problem = form_problem(phrase, allow_prefix=False)
            if problem:
                self.error(f"{label}: exclude {problem}", file.line(table, "exclude"), hint=_exclude_hint(problem))
                return False
            key = _match_key(phrase)
            for term_id in rule.term_ids:
                term = self.terms[term_id]
                same = [form for form in term.forms if _match_key(form) == key]
                if same:
                    self.error(
                        f"{label}: exclude phrase {phrase!r} is the alias {same[0]!r} of needed term {term_id!r}, "
                        "so it vetoes every entry that names the term that way",
                        file.line(table, "exclude"),
                    )
                    return False
        return True

    # typed values

    def check_keys(self, file: _File, table: str, label: str, body: dict[str, Any], allowed: tuple[str, ...]) -> bool:
        ok = True
        for key in body:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
                if key == "aliases" and "phrases" in allowed:
                    hint = "themes list their words under `phrases`"
                elif key == "phrases" and "aliases" in allowed:
                    hint = "actors list their names under `aliases`"
                self.error(f"{label}: unknown key {key!r}", file.line(table, key), hint=hint)
                ok = False
        return ok

    def string(self, file: _File, table: str, label: str, body: dict[str, Any], key: str) -> str | None:
        value = body.get(key, "")
        if not isinstance(value, str):
            self.error(f"{label}: `{key}` must be a string", file.line(table, key))
            return None
        return value.strip()

    def strings(self, file: _File, table: str, label: str, body: dict[str, Any], key: str) -> tuple[str, ...] | None:
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.error(f"{label}: `{key}` must be a list of strings", file.line(table, key))
            return None
        if any(not item.strip() for item in value):
            self.error(f"{label}: `{key}` has an empty string", file.line(table, key))
            return None
        return tuple(dict.fromkeys(item.strip() for item in value))

    def choice(
        self,
        file: _File,
        table: str,
        label: str,
        body: dict[str, Any],
        key: str,
        allowed: tuple[str, ...],
        default: str,
    ) -> str | None:
        value = body.get(key, default)
        if value not in allowed:
            self.error(f"{label}: bad {key} {value!r}", file.line(table, key), hint=f"one of {', '.join(allowed)}")
            return None
        return str(value)

    def boolean(self, file: _File, table: str, label: str, body: dict[str, Any], key: str) -> bool | None:
        value = body.get(key, False)
        if not isinstance(value, bool):
            self.error(f"{label}: `{key}` must be true or false", file.line(table, key))
            return None
        return value

    def within(self, file: _File, table: str, label: str, body: dict[str, Any]) -> int | None:
        value = body.get("within", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.error(
                f"{label}: `within` must be a whole number of words >= 0",
                file.line(table, "within"),
                hint="0 means anywhere in the entry",
            )
            return None
        return value

    def groups(self, file: _File, table: str, label: str, body: dict[str, Any]) -> tuple[tuple[str, ...], ...] | None:
        value = body.get("all", [])
        groups: list[tuple[str, ...]] = []
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str) and item.strip():
                    groups.append((item.strip(),))
                elif isinstance(item, list) and all(isinstance(t, str) and t.strip() for t in item):
                    groups.append(tuple(dict.fromkeys(t.strip() for t in item)))
                else:
                    break
            else:
                return tuple(groups)
        self.error(
            f"{label}: `all` must be a list of term ids or of lists of term ids",
            file.line(table, "all"),
            hint='e.g. all = ["disarmament", ["kataib-hezbollah", "nujaba"]]',
        )
        return None

    def examples(self, file: _File, table: str, label: str, body: dict[str, Any]) -> tuple[Example, ...] | None:
        value = body.get("examples", {})
        sub = f"{table}.examples"
        where = file.line(sub) if sub in file.headers else file.line(table, "examples")
        if not isinstance(value, dict):
            self.error(f"{label}: `examples` must be a table with `match` and `no_match` lists", where)
            return None
        examples: list[Example] = []
        for key, item in value.items():
            if key not in _EXAMPLE_KEYS:
                self.error(
                    f"{label}: unknown key {key!r} in examples",
                    _line_after(file, where, key) or where,
                    hint="examples have `match` and `no_match` lists of headlines",
                )
                return None
            key_where = _line_after(file, where, key) or where
            if not isinstance(item, list) or not all(isinstance(text, str) and text.strip() for text in item):
                self.error(f"{label}: examples `{key}` must be a list of non-empty strings", key_where)
                return None
            for text in item:
                examples.append(
                    Example(text=text, should_match=key == "match", location=_text_line(file, key_where, text))
                )
        return tuple(examples)


_DRAFT = re.compile(r"\.draft(-\d+)?\.toml$")


def is_draft(path: Path) -> bool:
    """Whether `path` is a draft written by `monitor seed` (NAME.draft.toml, NAME.draft-2.toml ...): not loaded."""
    return _DRAFT.search(path.name) is not None


def _load(directory: Path) -> tuple[RuleSet | None, list[RuleError]]:
    loader = _Loader()
    if not directory.is_dir():
        return None, [RuleError("rules directory not found", location=str(directory))]
    files = sorted(path for path in directory.glob("*.toml") if path.is_file() and not is_draft(path))
    if not files:
        return None, [
            RuleError(
                "no rule files (*.toml) in the rules directory",
                location=str(directory),
                hint="see docs/rules.md",
            )
        ]
    for path in files:
        loader.load_file(path)
    return _finish(loader, tuple(files), where=str(directory))


def _finish(
    loader: _Loader, files: tuple[Path, ...], where: str | None = None
) -> tuple[RuleSet | None, list[RuleError]]:
    """Resolve references once every file is loaded: the rule set, or the problems in file and line order."""
    rules = [pending.rule for pending in loader.rules.values() if loader.check_references(pending)]
    if not loader.errors and not rules:
        loader.error("no rules defined: add a [rules.NAME] table", where or str(files[0]))
    users = [rule for rule in rules if rule.similar]
    if users and not _semantic_available():
        loader.error(
            f"rule {users[0].name!r} asks for items close to a story (`similar`), which needs the semantic extra",
            users[0].location,
            hint="pip install 'monitor[semantic]', or remove `similar`",
        )
    errors = sorted(loader.errors, key=_error_order)
    if errors:
        return None, errors
    ruleset = RuleSet(
        terms=MappingProxyType(dict(loader.terms)),
        rules=tuple(rules),
        files=files,
        stories=MappingProxyType(dict(loader.stories)),
    )
    return ruleset, []


def _semantic_available() -> bool:
    from monitor.semantic import available

    return available()


def _error_order(error: RuleError) -> tuple[str, int]:
    where = error.location or ""
    path, _, line = where.rpartition(":")
    if line.isdigit():
        return path, int(line)
    return where, 0


@functools.lru_cache(maxsize=65536)
def _match_key(text: str) -> str:
    """The form the matcher compares: folded, without optional articles and a trailing "*"."""
    return " ".join(word for word in fold(text.rstrip().rstrip("*")).split() if word not in OPTIONAL_ARTICLES)


def form_problem(form: str, *, allow_prefix: bool = True) -> str | None:
    """Why an alias, phrase or exclusion can never work, or None."""
    body = form.rstrip()
    prefix = body.endswith("*")
    if prefix and not allow_prefix:
        return f"{form!r} cannot end in '*'"
    words = fold(body.rstrip("*")).split()
    if not words:
        return f"{form!r} has no letters or digits"
    if all(word in OPTIONAL_ARTICLES for word in words):
        return f"{form!r} has no words besides al/el"
    if "*" in body.rstrip("*"):
        return f"{form!r} has '*' before its end"
    if prefix and len(words[-1]) < PREFIX_MIN_LETTERS:
        return f"{form!r}: a prefix needs at least {PREFIX_MIN_LETTERS} letters before '*'"
    meaningful = [word for word in words if word not in OPTIONAL_ARTICLES]
    if len(meaningful) == 1 and meaningful[0] in COMMON_WORDS:
        return f"{form!r} folds to the common word {meaningful[0]!r}"
    return None


def _exclude_hint(problem: str) -> str | None:
    if "common word" in problem:
        return 'to exclude an acronym such as US, define a term with `acronyms = ["US"]` and exclude its id'
    return None


def _form_hint(problem: str) -> str | None:
    if "common word" in problem:
        return "list it under `acronyms` to match it only in capitals (e.g. US, IS)"
    return None


def _section_line(file: _File, section: str) -> str:
    """`path:line` where a top-level section first appears: `[section...]` or `section = ...`."""
    name = re.escape(section)
    pattern = re.compile(r"^\s*(\[\[?\s*[\"']?" + name + r"[\"']?\s*[.\]]|[\"']?" + name + r"[\"']?\s*[=.])")
    for number, line in enumerate(file.text.splitlines(), start=1):
        if pattern.match(line):
            return f"{file.path}:{number}"
    return str(file.path)


def _line_after(file: _File, where: str, key: str) -> str | None:
    """`path:line` of the first `key =` (or `key` in an inline table) at or after the line `where` names."""
    _, _, start = where.rpartition(":")
    first = int(start) - 1 if start.isdigit() else 0
    pattern = re.compile(r"(^|[{,\s])\"?" + re.escape(key) + r"\"?\s*=")
    for number, line in enumerate(file.text.splitlines()[first:], start=first + 1):
        if pattern.search(line):
            return f"{file.path}:{number}"
    return None


def _text_line(file: _File, where: str, text: str) -> str:
    """Best effort `path:line` of an example string in a (possibly multi-line) list starting at `where`."""
    _, _, start = where.rpartition(":")
    if not start.isdigit():
        return where
    needle = text[:40]
    lines = file.text.splitlines()
    for number in range(int(start) - 1, min(len(lines), int(start) + 200)):
        if needle in lines[number]:
            return f"{file.path}:{number + 1}"
    return where
