"""Compiled rules x entry -> matches that explain themselves (which alias matched where, and how well).

`Matcher(ruleset)` compiles once; `match(entry)` is then called for every new entry. Pure: no I/O.

The fields (the title as is; summary and content with HTML stripped) are folded (monitor.normalize) and their
standalone "al"/"el" words dropped, exactly as the aliases were at compile time, then searched as one word
list (with a separator no name can span):
  1. exact stage: ONE Aho-Corasick automaton holds every alias, phrase and exclusion phrase, space-padded so
     only whole words match; acronyms are found case-sensitively, as whole words, in the original text;
  2. fuzzy stage (terms of rules with fuzziness "strict" or "loose"): each distinct word of the text is
     compared with the alias words of the same first letter and similar length (edit distance with a swap of
     two neighbouring letters as one edit, with a cutoff, memoised across entries); an alias is tried only
     where such a word matched AND another of its words is found exactly at the right distance, then checked
     word by word within the limits of docs/rules.md;
  3. hits are cleaned up: a name of several words across punctuation does not count ("Kataeb, Hezbollah"),
     nor does a name inside a longer actor name of another term ("Hezbollah" inside "Kata'ib Hezbollah"),
     and a term's `exclude` phrase in the same sentence vetoes that term's hits;
  4. every rule whose terms were hit is evaluated: any/all groups, `within`, `same_sentence`, rule `exclude`.
Per-entry work is linear in the text length; everything about the aliases is prepared at compile time, and
fields are mapped back to original offsets only when a rule may fire.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, filterfalse

import ahocorasick
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from monitor.model import ENTRY_FIELDS, Entry, Hit, Match, severity_rank
from monitor.normalize import OPTIONAL_ARTICLES, WordSpans, fold, fold_words, is_mark, strip_html
from monitor.rules import Rule, RuleSet

LEVELS = {"off": 0, "strict": 1, "loose": 2}
"""Fuzziness levels as numbers: a hit found at level n is visible to rules of level n and above."""

STRICT_MIN_LENGTH = 6
"""Strict fuzziness: words shorter than this must match exactly."""
LOOSE_MIN_LENGTH = 5
"""Loose fuzziness: words shorter than this must match exactly."""

_MEMO_LIMIT = 200_000  # distinct text words remembered by the fuzzy stage before its memo is reset

# Punctuation that never sits inside a name: a name of several words does not match across it ("Kataeb,
# Hezbollah trade accusations" is two parties), unless the alias itself is written with it.
_BARRIER = re.compile(r"[,;:!?()\[\]{}|/\\\n.\u2014\u060c\u061b\u061f\u00ab\u00bb\u201c\u201d\"•·]")

# A sentence ends at ! ? ؟ … or a period followed by a space, a closing quote or the end (not "3.5"), and at
# every line break (block tags of summaries become line breaks). See _sentence_ends for initials ("U.S.").
_SENTENCE_END = re.compile(r"[.!?\u061f\u2026\u3002]+(?=[\s\"')\]\u201d\u2019\u00bb]|$)|\n")


def edit_budget(length: int, level: int) -> int:
    """Edits allowed in a word of `length` characters at fuzziness `level` (1 strict, 2 loose; 0 none)."""
    if level >= 2:
        if length < LOOSE_MIN_LENGTH:
            return 0
        return 1 if length <= 7 else 2 if length <= 11 else 3
    if level == 1:
        if length < STRICT_MIN_LENGTH:
            return 0
        return 1 if length <= 8 else 2
    return 0


def _level_for(distance: int, length: int) -> int:
    """The lowest fuzziness level allowing `distance` edits in a word of `length` (3 when none does)."""
    if distance <= edit_budget(length, 1):
        return 1
    if distance <= edit_budget(length, 2):
        return 2
    return 3


@dataclass(frozen=True, slots=True)
class _Form:
    """One searchable variant of an alias or phrase of a term."""

    term: str
    actor: bool
    written: str  # the alias as written in the rule file
    words: tuple[str, ...]  # folded, optional articles removed
    prefix: bool  # the last word matches any word it starts ("disarm*")
    leading_article: bool  # written with a leading al-/el-: the reported span takes it in when present


@dataclass(frozen=True, slots=True)
class _Key:
    """What one automaton key stands for."""

    length: int  # characters of the key (to find where a match starts)
    words: int  # text words it spans
    forms: tuple[int, ...]  # indexes into Matcher._forms
    term_excludes: tuple[str, ...]  # terms whose `exclude` has this phrase
    rule_excludes: tuple[str, ...]  # rule-level exclusion phrases (folded) equal to this key


@dataclass(slots=True)
class _RawHit:
    term: str
    actor: bool
    alias: str
    field: int  # index into ENTRY_FIELDS
    first: int  # first and last word, as indexes into the field's kept words
    last: int
    score: float
    level: int  # 0 exact, 1 strict fuzzy, 2 loose fuzzy
    leading_article: bool = False
    char_start: int = -1  # offsets in the field text: known at once for acronyms, else set by _FieldMap
    char_end: int = -1
    sentence: int = 0


@dataclass(slots=True)
class _Exclusion:
    field: int
    first: int
    last: int
    terms: tuple[str, ...]
    phrases: tuple[str, ...]
    sentence: int = 0


@dataclass(slots=True)
class _Field:
    index: int  # into ENTRY_FIELDS
    text: str  # the title as given, or the tag-stripped summary/content: offsets refer to it
    words: list[str]  # folded words
    kept: list[str]  # folded words without optional articles (hit word positions are indexes into it)
    hits: list[_RawHit] = field(default_factory=list)
    exclusions: list[_Exclusion] = field(default_factory=list)


class Matcher:
    """Rules compiled for matching: build once per RuleSet, then call `match` for every entry.

    Safe to share between threads: the only state that changes after compiling is a memo of fuzzy word
    comparisons, which never changes results.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._rules = ruleset.rules
        self._rules_by_term: dict[str, list[int]] = defaultdict(list)  # term -> rules it may trigger
        self._term_level: dict[str, int] = {}
        self._groups = [tuple(frozenset(group) for group in rule.groups) for rule in self._rules]
        for index, rule in enumerate(self._rules):
            level = LEVELS[rule.fuzziness]
            # A rule can only fire when each of its groups has a hit: it is looked at only when a term of one
            # group (actors before themes, which are common words, then the smallest group) was found.
            trigger = min(
                rule.groups,
                key=lambda group: (any(ruleset.terms[t].kind != "actor" for t in group), len(group)),
                default=(),  # a rule with `similar` only: looked at for every item (_similar_only)
            )
            for term in trigger:
                self._rules_by_term[term].append(index)
            for term in (*rule.term_ids, *(entry for entry in rule.exclude if entry in ruleset.terms)):
                self._term_level[term] = max(self._term_level.get(term, 0), level)
        self._any_same_sentence = any(rule.same_sentence for rule in self._rules)
        self._rule_terms = [
            frozenset((*rule.term_ids, *(entry for entry in rule.exclude if entry in ruleset.terms)))
            for rule in self._rules
        ]
        self._forms: list[_Form] = []
        self._rule_phrases: list[frozenset[str]] = []
        self._compile_phrases()
        self._compile_acronyms()
        self._compile_fuzzy()
        self._compile_clitics()
        self._compile_stories()

    # --- public API ------------------------------------------------------------------------------------------

    @property
    def alias_count(self) -> int:
        """How many alias forms were compiled (with their possessive and written-as-one-word variants)."""
        return len(self._forms)

    def match(self, entry: Entry) -> list[Match]:
        """The rules that fire on `entry` (title, summary and content searched), most severe first."""
        return self.match_text(entry.title, entry.summary, entry.content)

    def match_text(self, title: str, summary: str = "", content: str = "") -> list[Match]:
        """The rules that fire on these texts, most severe first; summary and content may be HTML.

        Hit offsets refer to `title` as given and to the tag-stripped summary/content (`normalize.strip_html`).
        """
        summary_text = strip_html(summary) if summary else ""
        content_text = strip_html(content) if content else ""
        if content_text and summary_text and summary_text.strip() in content_text:
            summary_text = ""  # the content repeats the summary: its hits are found (and reported) in the content
        fields = []
        # The fields are searched as one word list, separated by a word no alias or phrase can contain.
        text_words: list[str] = []
        starts: list[int] = []
        vocabulary: set[str] = set()  # the distinct words of text_words
        for index, text in enumerate((title, summary_text, content_text)):
            if text:
                words = fold_words(text)
                if words and self._clitic_targets and not text.isascii() and _ARABIC_LETTER.search(text):
                    words = [self._without_clitic(word) for word in words]
                if words:
                    distinct = set(words)
                    kept = words
                    if not OPTIONAL_ARTICLES.isdisjoint(distinct):
                        kept = list(filterfalse(OPTIONAL_ARTICLES.__contains__, words))
                        distinct -= OPTIONAL_ARTICLES
                    fields.append(_Field(index=index, text=text, words=words, kept=kept))
                    if starts:
                        text_words.append(_SEPARATOR)
                        vocabulary.add(_SEPARATOR)
                    starts.append(len(text_words))
                    text_words += kept
                    vocabulary |= distinct
        if not fields and not self._similar_only:
            return []
        padded = " " + " ".join(text_words) + " "
        self._find_phrases(fields, padded, starts)
        if self._acronym_regex is not None and (
            self._acronyms_always or not self._acronym_words.isdisjoint(vocabulary)
        ):
            for scanned in fields:
                self._find_acronyms(scanned)
        if self._buckets:
            self._fuzzy(fields, text_words, starts, vocabulary)
        closeness = self._closeness(title, summary_text, content_text) if self._story_vectors else None
        matches = self._evaluate(fields, closeness)
        if closeness is not None and self._similar_only:
            for index in self._similar_only:
                rule = self._rules[index]
                score = closeness(rule.similar)
                if score >= self.ruleset.stories[rule.similar].threshold:
                    hit = self._story_hit(rule.similar, score)
                    matches.append(Match(rule.name, rule.severity, hit.score, (hit,), rule.targets))
            matches.sort(key=lambda found: (-severity_rank(found.severity), found.rule))
        return matches

    # --- compile ---------------------------------------------------------------------------------------------

    def _compile_phrases(self) -> None:
        """The automaton of aliases, phrases and exclusion phrases (folded, space-padded keys)."""
        keys: dict[str, tuple[list[int], list[str], list[str]]] = {}

        def add_key(words: Sequence[str], prefix: bool) -> tuple[list[int], list[str], list[str]]:
            key = " " + " ".join(words) + ("" if prefix else " ")
            return keys.setdefault(key, ([], [], []))

        for term_id in sorted(self._term_level):
            term = self.ruleset.terms[term_id]
            for written in term.forms:
                for form in _variants(term_id, term.kind == "actor", written):
                    add_key(form.words, form.prefix)[0].append(len(self._forms))
                    self._forms.append(form)
            for phrase in term.exclude:
                for words in _phrase_words(phrase):
                    add_key(words, False)[1].append(term_id)
        for rule in self._rules:
            phrases = set()
            for phrase in rule.exclude:
                if phrase not in self.ruleset.terms:
                    for words in _phrase_words(phrase):
                        phrases.add(" ".join(words))
                        add_key(words, False)[2].append(" ".join(words))
            self._rule_phrases.append(frozenset(phrases))
        self._automaton = ahocorasick.Automaton()
        for key, (forms, terms, phrases_here) in keys.items():
            prefix = not key.endswith(" ")
            self._automaton.add_word(
                key,
                _Key(
                    length=len(key),
                    words=key.count(" ") - (0 if prefix else 1),
                    forms=tuple(dict.fromkeys(forms)),
                    term_excludes=tuple(dict.fromkeys(terms)),
                    rule_excludes=tuple(dict.fromkeys(phrases_here)),
                ),
            )
        self._has_keys = bool(keys)
        if self._has_keys:
            self._automaton.make_automaton()

    def _compile_acronyms(self) -> None:
        """One regex over the original text: the acronyms as a trie (fast), whole words, case-sensitive."""
        self._acronym_terms: dict[str, tuple[str, ...]] = {}
        by_acronym: dict[str, list[str]] = defaultdict(list)
        for term_id in sorted(self._term_level):
            for acronym in self.ruleset.terms[term_id].acronyms:
                by_acronym[acronym].append(term_id)
        self._acronym_terms = {acronym: tuple(terms) for acronym, terms in by_acronym.items()}
        # Folded, an acronym is some word of the text ("KH" -> "kh"): the regex runs only when one is there.
        self._acronym_words = frozenset((fold_words(acronym) or [""])[0] for acronym in by_acronym)
        self._acronyms_always = bool(self._acronym_words & OPTIONAL_ARTICLES)  # "AL": not in the word set
        self._actor = {term_id: term.kind == "actor" for term_id, term in self.ruleset.terms.items()}
        self._acronym_regex = re.compile("(?:" + _trie_pattern(sorted(by_acronym)) + r")(?!\w)") if by_acronym else None

    def _compile_stories(self) -> None:
        """The stories rules ask items to read close to (`similar`): their articles embedded once."""
        wanted = sorted({rule.similar for rule in self._rules if rule.similar})
        self._story_vectors: dict[str, list[float]] = {}
        self._similar_only = [index for index, rule in enumerate(self._rules) if rule.similar and not rule.groups]
        if wanted:
            from monitor.semantic import embedder  # wordllama: loaded only when a rule set has stories

            vectors = embedder().embed([self.ruleset.stories[story].text for story in wanted])
            self._story_vectors = dict(zip(wanted, vectors, strict=True))

    def _closeness(self, title: str, summary: str, content: str) -> Callable[[str], float]:
        """story id -> how close the item reads to that story's article (the item embedded on first use)."""
        vector: list[list[float]] = []

        def closeness(story: str) -> float:
            from monitor.semantic import embedder, similarity

            if not vector:
                text = " ".join(part for part in (title, summary, content[:2000]) if part)
                vector.append(embedder().embed([text])[0])
            return similarity(vector[0], self._story_vectors[story])

        return closeness

    def _story_hit(self, story: str, score: float) -> Hit:
        """The explanation of a `similar` rule: which story the item reads close to, and how close."""
        name = self.ruleset.stories[story].name
        return Hit(
            term=story,
            kind="story",
            alias=name,
            field="story",
            start=-1,
            end=-1,
            text=f"{score:.2f}",
            score=round(100 * score, 1),
        )

    def _compile_clitics(self) -> None:
        """The Arabic words of aliases and phrases: a text word that is one of them behind an attached
        conjunction, preposition or article ("وكتائب", "لكتائب", "بالسلاح") is read as that word."""
        words = {word for form in self._forms for word in form.words if _ARABIC_LETTER.search(word)}
        for rule_phrases in self._rule_phrases:
            words.update(word for phrase in rule_phrases for word in phrase.split() if _ARABIC_LETTER.search(word))
        self._clitic_targets = frozenset(words)
        self._clitic_memo: dict[str, str] = {}

    def _without_clitic(self, word: str) -> str:
        """`word`, or the alias word it is once its leading clitics are taken off (memoised)."""
        found = self._clitic_memo.get(word)
        if found is None:
            found = word
            if word not in self._clitic_targets and _ARABIC_LETTER.match(word):
                for candidate in arabic_stems(word):
                    if candidate in self._clitic_targets:
                        found = candidate
                        break
            if len(self._clitic_memo) >= _MEMO_LIMIT:
                self._clitic_memo.clear()
            self._clitic_memo[word] = found
        return found

    def _compile_fuzzy(self) -> None:
        """Alias words that may match fuzzily (by first letter and length) and where to try their forms."""
        # alias word -> single-word forms; alias word -> offset -> word there -> [(form, position of the word)]
        self._single_anchors: dict[str, list[int]] = defaultdict(list)
        self._pair_anchors: dict[str, dict[int, dict[str, list[tuple[int, int]]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        buckets: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._max_level = 0
        for index, form in enumerate(self._forms):
            level = self._term_level.get(form.term, 0)
            if level == 0 or form.prefix or not form.actor:
                continue
            min_length = STRICT_MIN_LENGTH if level == 1 else LOOSE_MIN_LENGTH
            for position, word in enumerate(form.words):
                if len(word) < min_length or not word.isalpha():
                    continue
                buckets[word[0]][len(word)].add(word)
                self._max_level = max(self._max_level, level)
                if len(form.words) == 1:
                    self._single_anchors[word].append(index)
                    continue
                # A fuzzy match of a longer form always has at least one exact word: try the form only where
                # one of its other words is found exactly at the right distance from the fuzzy one.
                for other_position, other in enumerate(form.words):
                    if other_position != position:
                        self._pair_anchors[word][other_position - position][other].append((index, position))
        self._buckets = {
            letter: {length: sorted(words) for length, words in by_length.items()}
            for letter, by_length in buckets.items()
        }
        # (first letter, length of a text word) -> the alias words it may be close to: within the edit budget of
        # the shorter word, so never more than the text word's own budget apart in length
        self._candidates: dict[tuple[str, int], list[str]] = {}
        for letter, by_length in self._buckets.items():
            for length in range(1, max(by_length) + 4):
                reach = edit_budget(length, self._max_level)
                if reach:
                    near = [w for n in range(length - reach, length + reach + 1) for w in by_length.get(n, ())]
                    if near:
                        self._candidates[(letter, length)] = near
        self._similar_memo: dict[str, dict[str, int]] = {}
        self._dull: set[str] = set()  # text words known to be close to no alias word
        self._plans: dict[str, tuple[list[int], list[tuple[int, dict[str, list[tuple[int, int]]]]]]] = {}
        self._min_fuzzy_length = LOOSE_MIN_LENGTH if self._max_level >= 2 else STRICT_MIN_LENGTH

    def _similar(self, word: str) -> dict[str, int]:
        """Alias words within the loosest edit budget of `word` (not `word` itself), with their distances."""
        memo = self._similar_memo.get(word)
        if memo is not None:
            return memo
        found: dict[str, int] = {}
        candidates = self._candidates.get((word[:1], len(word)))
        if candidates and word.isalpha():
            length = len(word)
            for candidate, distance, _ in process.extract(
                word, candidates, scorer=OSA.distance, score_cutoff=edit_budget(length, self._max_level), limit=None
            ):
                if distance and distance <= edit_budget(min(length, len(candidate)), self._max_level):
                    found[candidate] = int(distance)
        if len(self._similar_memo) >= _MEMO_LIMIT:
            self._similar_memo.clear()
        self._similar_memo[word] = found
        return found

    # --- scan one field --------------------------------------------------------------------------------------

    def _find_phrases(self, fields: list[_Field], padded: str, starts: list[int]) -> None:
        """The exact stage: every alias, phrase and exclusion phrase in the fields' words (`padded`)."""
        if not self._has_keys:
            return
        for end, key in self._automaton.iter(padded):
            first = padded.count(" ", 0, end - key.length + 2) - 1
            number = bisect_right(starts, first) - 1
            scanned = fields[number]
            first -= starts[number]
            last = first + key.words - 1
            for form_index in key.forms:
                form = self._forms[form_index]
                scanned.hits.append(
                    _RawHit(
                        form.term, form.actor, form.written, scanned.index, first, last, 100.0, 0, form.leading_article
                    )
                )
            if key.term_excludes or key.rule_excludes:
                scanned.exclusions.append(_Exclusion(scanned.index, first, last, key.term_excludes, key.rule_excludes))

    def _find_acronyms(self, scanned: _Field) -> None:
        assert self._acronym_regex is not None
        text = scanned.text
        for found in self._acronym_regex.finditer(text):
            start = found.start()
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            for term in self._acronym_terms[found.group()]:
                hit = _RawHit(term, self._actor[term], found.group(), scanned.index, 0, 0, 100.0, 0)
                hit.char_start, hit.char_end = start, found.end()
                scanned.hits.append(hit)

    def _fuzzy(self, fields: list[_Field], text_words: list[str], starts: list[int], vocabulary: set[str]) -> None:
        """Fuzzy hits: forms tried where a text word is close to one of their words (see _compile_fuzzy)."""
        candidates = vocabulary - self._dull  # most words of a text: known to be close to no alias word
        if not candidates:
            return
        min_length = self._min_fuzzy_length
        close: dict[str, dict[str, int]] = {}
        for word in candidates:
            similar = self._similar(word) if len(word) >= min_length else None
            if similar:
                close[word] = similar
            else:
                if len(self._dull) >= _MEMO_LIMIT:
                    self._dull.clear()
                self._dull.add(word)
        if not close:
            return
        size = len(text_words)
        tried: set[tuple[int, int]] = set()
        for position in compress(range(size), map(close.__contains__, text_words)):
            singles, pairs = self._plan(text_words[position], close[text_words[position]])
            attempts = [(single, position) for single in singles]
            for offset, by_word in pairs:
                other = position + offset
                if 0 <= other < size:
                    for longer, anchor in by_word.get(text_words[other], ()):
                        attempts.append((longer, position - anchor))
            if attempts:
                for form_index, start in attempts:
                    if (form_index, start) in tried:
                        continue
                    tried.add((form_index, start))
                    form = self._forms[form_index]
                    if start < 0 or start + len(form.words) > size:
                        continue
                    found = self._try_form(form, text_words, start)
                    if found is None:
                        continue
                    number = bisect_right(starts, start) - 1
                    scanned = fields[number]
                    first = start - starts[number]
                    scanned.hits.append(
                        _RawHit(
                            form.term,
                            form.actor,
                            form.written,
                            scanned.index,
                            first,
                            first + len(form.words) - 1,
                            found[0],
                            found[1],
                            form.leading_article,
                        )
                    )

    def _plan(
        self, word: str, similar: dict[str, int]
    ) -> tuple[list[int], list[tuple[int, dict[str, list[tuple[int, int]]]]]]:
        """Where to try forms around a text word close to alias words: one-word forms, and longer forms by
        (offset of another word, that word) -> [(form, position of the close word in it)]. Memoised."""
        plan = self._plans.get(word)
        if plan is None:
            singles: list[int] = []
            pairs: dict[int, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
            for alias_word in similar:
                singles += self._single_anchors.get(alias_word, ())
                for offset, by_word in self._pair_anchors.get(alias_word, {}).items():
                    for other, forms in by_word.items():
                        pairs[offset][other] += forms
            plan = singles, [(offset, dict(by_word)) for offset, by_word in sorted(pairs.items())]
            if len(self._plans) >= _MEMO_LIMIT:
                self._plans.clear()
            self._plans[word] = plan
        return plan

    def _try_form(self, form: _Form, kept: list[str], start: int) -> tuple[float, int] | None:
        """(score, level) when `form` matches `kept` from `start` with at least one fuzzy word, else None."""
        fuzzy_words = 0
        level = 1
        for offset, alias_word in enumerate(form.words):
            text_word = kept[start + offset]
            if text_word == alias_word:
                continue
            if text_word[0] != alias_word[0] or len(text_word) < self._min_fuzzy_length:
                return None
            distance = self._similar(text_word).get(alias_word)
            if distance is None:
                return None
            level = max(level, _level_for(distance, min(len(text_word), len(alias_word))))
            fuzzy_words += 1
        if fuzzy_words == 0 or fuzzy_words > max(1, len(form.words) // 2):
            return None
        if len(form.words) == 1 and kept[start][-1] != form.words[0][-1]:
            level = max(level, 2)  # a lone word that differs at its end ("Sudani"/"Sudanis"): loose only
        if level > self._term_level.get(form.term, 0):
            return None
        matched = " ".join(kept[start : start + len(form.words)])
        return round(fuzz.ratio(" ".join(form.words), matched), 1), level

    # --- evaluate rules --------------------------------------------------------------------------------------

    def _evaluate(self, fields: list[_Field], closeness: Callable[[str], float] | None = None) -> list[Match]:
        terms_found = {hit.term for scanned in fields for hit in scanned.hits}
        if not terms_found:
            return []
        candidates = sorted(
            index
            for index in {index for term in terms_found for index in self._rules_by_term.get(term, ())}
            if all(not group.isdisjoint(terms_found) for group in self._groups[index])
        )
        if not candidates:
            return []  # e.g. only theme words, and no rule needs them alone: no need to map offsets
        relevant = {term for index in candidates for term in self._rule_terms[index]}
        all_hits: list[_RawHit] = []
        exclusions: list[_Exclusion] = []
        for scanned in fields:
            # Actor hits of other terms stay: a longer actor name hides the names inside it whichever rules
            # are candidates, so the outcome never depends on unrelated rules.
            scanned.hits = [hit for hit in scanned.hits if hit.term in relevant or hit.actor]
            if scanned.hits:
                _FieldMap(scanned).place(scanned, self._any_same_sentence)  # may drop hits across punctuation
                all_hits += scanned.hits
                exclusions += scanned.exclusions
            else:
                exclusions += [exclusion for exclusion in scanned.exclusions if exclusion.phrases]
        texts = {scanned.index: scanned.text for scanned in fields}
        vetoed = {(exclusion.field, exclusion.sentence, term) for exclusion in exclusions for term in exclusion.terms}
        phrases_found = {phrase for exclusion in exclusions for phrase in exclusion.phrases}
        visible_by_level: dict[int, dict[str, list[_RawHit]]] = {}
        matches = []
        for rule_index in candidates:
            rule = self._rules[rule_index]
            if self._rule_phrases[rule_index] & phrases_found:
                continue
            level = LEVELS[rule.fuzziness]
            by_term = visible_by_level.get(level)
            if by_term is None:
                by_term = visible_by_level[level] = _visible(all_hits, level, vetoed)
            if any(by_term.get(entry) for entry in rule.exclude if entry in self.ruleset.terms):
                continue
            chosen = _choose(rule, by_term)
            if chosen is None:
                continue
            score, hits = chosen
            found_hits = tuple(self._hit(hit, texts[hit.field]) for hit in hits)
            if rule.similar:  # the item must also read close to the story's article
                assert closeness is not None
                close = closeness(rule.similar)
                if close < self.ruleset.stories[rule.similar].threshold:
                    continue
                found_hits += (self._story_hit(rule.similar, close),)
            matches.append(
                Match(rule=rule.name, severity=rule.severity, score=score, hits=found_hits, targets=rule.targets)
            )
        matches.sort(key=lambda found: (-severity_rank(found.severity), found.rule))
        return matches

    def _hit(self, hit: _RawHit, text: str) -> Hit:
        return Hit(
            term=hit.term,
            kind=self.ruleset.terms[hit.term].kind,
            alias=hit.alias,
            field=ENTRY_FIELDS[hit.field],
            start=hit.char_start,
            end=hit.char_end,
            text=text[hit.char_start : hit.char_end],
            score=hit.score,
        )


class _FieldMap:
    """Where one field's kept words sit in its text; built only for fields with hits, when a rule may fire."""

    def __init__(self, scanned: _Field) -> None:
        self.text = scanned.text
        self.spans = WordSpans(scanned.text)
        self.words = words = scanned.words
        # kept word number -> folded word number; None when no article was dropped (the same numbers)
        self.kept_to_folded: list[int] | None = None
        if len(scanned.kept) != len(words):
            self.kept_to_folded = list(compress(range(len(words)), map(_not_article, words)))

    def place(self, scanned: _Field, all_sentences: bool) -> None:
        """Fill in the text offsets, the word positions of acronyms and (when needed) sentence numbers."""
        kept_hits = []
        for hit in scanned.hits:
            if hit.char_start < 0:
                hit.char_start, hit.char_end = self._span(hit.first, hit.last, hit.leading_article)
                if hit.last > hit.first:
                    barriers = _BARRIER.findall(self.text, hit.char_start, hit.char_end)
                    if barriers and not set(barriers) <= set(hit.alias):
                        continue
            else:
                hit.first = self._kept_word_at(hit.char_start)
                hit.last = self._kept_word_at(hit.char_end - 1)
            kept_hits.append(hit)
        scanned.hits = kept_hits
        if all_sentences or any(exclusion.terms for exclusion in scanned.exclusions):
            ends = _sentence_ends(self.text)
            for hit in scanned.hits:
                hit.sentence = bisect_right(ends, hit.char_start)
            for exclusion in scanned.exclusions:
                exclusion.sentence = bisect_right(ends, self._span(exclusion.first, exclusion.last, False)[0])

    def _span(self, first: int, last: int, leading_article: bool) -> tuple[int, int]:
        start_word, end_word = first, last
        if self.kept_to_folded is not None:
            start_word, end_word = self.kept_to_folded[first], self.kept_to_folded[last]
        if leading_article and start_word > 0 and self.words[start_word - 1] in OPTIONAL_ARTICLES:
            start_word -= 1
        return self.spans.span(start_word)[0], self.spans.span(end_word)[1]

    def _kept_word_at(self, char: int) -> int:
        folded_word = self.spans.word_at(char)
        if self.kept_to_folded is None:
            return folded_word
        return min(bisect_left(self.kept_to_folded, folded_word), max(len(self.kept_to_folded) - 1, 0))


def _visible(hits: Iterable[_RawHit], level: int, vetoed: set[tuple[int, int, str]]) -> dict[str, list[_RawHit]]:
    """The hits a rule of `level` sees, by term: fuzzy enough, not inside a longer actor name, not vetoed."""
    best: dict[tuple[int, int, int, str], _RawHit] = {}  # one hit per term and place: the best one
    for hit in sorted(
        (hit for hit in hits if hit.level <= level), key=lambda h: (-h.score, h.level, h.char_start, h.alias)
    ):
        best.setdefault((hit.field, hit.first, hit.last, hit.term), hit)
    usable = sorted(best.values(), key=lambda h: (h.field, h.first, h.last, h.term))
    by_term: dict[str, list[_RawHit]] = defaultdict(list)
    for hit in usable:
        if (hit.field, hit.sentence, hit.term) in vetoed:
            continue
        size = hit.last - hit.first
        if any(
            other.field == hit.field
            and other.first <= hit.first
            and hit.last <= other.last
            and other.last - other.first > size
            and (other.actor or other.term == hit.term)
            for other in usable
        ):
            # inside a longer actor name ("Hezbollah" in "Kata'ib Hezbollah"), or a shorter hit of the same
            # term inside a longer one (adds nothing)
            continue
        by_term[hit.term].append(hit)
    return by_term


def _choose(rule: Rule, by_term: dict[str, list[_RawHit]]) -> tuple[float, list[_RawHit]] | None:
    """The weakest needed score and the hits to report, when the rule's groups and constraints are met.

    Without `within`/`same_sentence` every hit of a needed term is reported and each group counts with its best
    hit. With them, the best-scoring choice of one hit per group (same field, same sentence, in the window)
    is reported.
    """
    groups = [[hit for term in group for hit in by_term.get(term, ())] for group in rule.groups]
    if not all(groups):
        return None
    if not rule.within and not rule.same_sentence:
        score = min(max(hit.score for hit in group) for group in groups)
        reported = {id(hit): hit for group in groups for hit in group}
        return score, sorted(reported.values(), key=_position)
    best: tuple[float, list[_RawHit]] | None = None
    for field_index in sorted({hit.field for group in groups for hit in group}):
        in_field = [[hit for hit in group if hit.field == field_index] for group in groups]
        if not all(in_field):
            continue
        if rule.same_sentence:
            sentences = sorted({hit.sentence for group in in_field for hit in group})
            places = [
                [[hit for hit in group if hit.sentence == sentence] for group in in_field] for sentence in sentences
            ]
        else:
            places = [in_field]
        for local in places:
            if not all(local):
                continue
            picked = _pick_within(local, rule.within)
            if picked is not None and (best is None or picked[0] > best[0]):
                best = picked
    return best


def _pick_within(groups: list[list[_RawHit]], within: int) -> tuple[float, list[_RawHit]] | None:
    """The best-scoring choice of one hit per group with at most `within` words between them (0: any choice).

    A choice fits when (first word of its last hit) - (last word of its first hit) - 1 <= within. Every
    fitting choice has some hit's first word as its right edge, and for a given edge each group's best hit
    overlapping [edge - within - 1, edge] can be taken independently.
    """
    if not within:
        picks = [max(group, key=lambda h: (h.score, -h.first)) for group in groups]
        return min(hit.score for hit in picks), sorted({id(h): h for h in picks}.values(), key=_position)
    best: tuple[float, list[_RawHit]] | None = None
    for edge in sorted({hit.first for group in groups for hit in group}):
        picks = []
        for group in groups:
            fitting = [hit for hit in group if hit.first <= edge and hit.last >= edge - within - 1]
            if not fitting:
                break
            picks.append(max(fitting, key=lambda h: (h.score, -h.first)))
        else:
            score = min(hit.score for hit in picks)
            if best is None or score > best[0]:
                best = score, sorted({id(h): h for h in picks}.values(), key=_position)
    return best


def _position(hit: _RawHit) -> tuple[int, int, int, str, str]:
    return hit.field, hit.char_start, hit.char_end, hit.term, hit.alias


def _sentence_ends(text: str) -> list[int]:
    """Offsets where sentences end; a period after a lone capital ("U.S. forces", "J. Smith") ends none."""
    ends = []
    for found in _SENTENCE_END.finditer(text):
        start = found.start()
        if (
            found.end() - start == 1
            and text[start] == "."
            and start >= 1
            and "A" <= text[start - 1] <= "Z"
            and (start == 1 or not text[start - 2].isalpha())
        ):
            continue
        ends.append(start)
    return ends


_SEPARATOR = "\x00"  # between fields in the searched word list: no key, no alias word contains it
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
_CONJUNCTIONS = ("و", "ف")
_PREPOSITIONS = ("ب", "ل", "ك")


def arabic_stems(word: str) -> list[str]:
    """What a folded Arabic word may be behind attached clitics, most likely first: "وكتائب" -> "كتائب";
    "بالسلاح" -> "السلاح", "سلاح"; "للحشد" -> "الحشد", "حشد"; "الحشد" -> "حشد". Three letters stay at least."""
    found: list[str] = []
    rest = word
    if rest[:1] in _CONJUNCTIONS and len(rest) > 3:
        rest = rest[1:]
        found.append(rest)
    if rest.startswith("لل") and len(rest) > 4:
        found += ["ال" + rest[2:], rest[2:]]
    elif rest[:1] in _PREPOSITIONS and len(rest) > 3:
        rest = rest[1:]
        found.append(rest)
    if rest.startswith("ال") and len(rest) > 4:
        found.append(rest[2:])
    return found


def _not_article(word: str) -> bool:
    return word not in OPTIONAL_ARTICLES


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_" or is_mark(char)


class _Trie(dict[str, "_Trie"]):
    """A character trie; the key "" marks the end of a word."""


def _trie_pattern(words: list[str]) -> str:
    """A regex matching any of `words`, as a trie so re tries one branch per character (longest first)."""
    trie = _Trie()
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, _Trie())
        node[""] = _Trie()

    def pattern(node: _Trie) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if "" in node:
            branches.append("")  # the word may end here: tried after the longer branches
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return pattern(trie)


def _phrase_words(phrase: str) -> list[tuple[str, ...]]:
    """The word sequences an exclusion phrase is searched as (with and without a possessive "'s")."""
    variants = []
    for folded in dict.fromkeys((fold(phrase), fold(phrase, keep_possessive=True))):
        words = tuple(word for word in folded.split() if word not in OPTIONAL_ARTICLES)
        if words:
            variants.append(words)
    return variants


def _variants(term: str, actor: bool, written: str) -> list[_Form]:
    """Every form an alias is searched as: possessive dropped or kept, and 2-3 words also written as one."""
    body = written.rstrip()
    prefix = body.endswith("*")
    body = body.rstrip("*")
    forms: list[_Form] = []
    seen: set[tuple[tuple[str, ...], bool]] = set()
    for folded in dict.fromkeys((fold(body), fold(body, keep_possessive=True))):
        all_words = folded.split()
        leading_article = bool(all_words) and all_words[0] in OPTIONAL_ARTICLES
        words = tuple(word for word in all_words if word not in OPTIONAL_ARTICLES)
        if not words:
            continue
        shapes = [words]
        if not prefix and 2 <= len(words) <= 3:
            shapes.append(("".join(words),))  # "Ansar Allah" also as "Ansarallah", "حزب الله" as "حزبالله"
        if not prefix and len(words) == 3:  # "كتائب حزبالله": the last two (or first two) words written as one
            if min(len(words[1]), len(words[2])) >= 3:
                shapes.append((words[0], words[1] + words[2]))
            if min(len(words[0]), len(words[1])) >= 3:
                shapes.append((words[0] + words[1], words[2]))
        for shape in shapes:
            if (shape, prefix) not in seen:
                seen.add((shape, prefix))
                forms.append(_Form(term, actor, written, shape, prefix, leading_article))
    return forms
