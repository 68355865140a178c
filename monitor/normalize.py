"""Text folding shared by the rules and the matcher: the one definition of "the same word".

Both sides of every comparison go through `fold`: the aliases when rules are compiled, the entry text when it
is matched. Folding is per character (a table built lazily from Unicode data, so `fold` runs as one C-level
`str.translate`), which is what lets `fold_with_offsets` give, for every folded character, the offset of the
original character it came from: hits are reported as spans of the original text.

What folding does, in order, to each character:
  - apostrophe-like marks (' ’ ‘ ‛ ʿ ʾ ʼ ʻ ʽ ` ´ ′) are deleted: "Kata'ib" -> "kataib";
  - NFKD decomposition, case folding, combining marks dropped: "Ḥizballah" -> "hizballah", "ﬁ" -> "fi";
  - Arabic script: tashkeel and tatweel dropped, أ إ آ ٱ -> ا, ى -> ي, ة -> ه, ؤ -> و, ئ -> ي, Persian ک -> ك
    and ی -> ي, Arabic-Indic digits -> 0-9;
  - invisible format characters (soft hyphen, zero-width joiners, direction marks) are deleted;
  - every other non-letter, non-digit (hyphens, dashes, punctuation, symbols, whitespace) becomes a space;
then runs of spaces collapse to one and the ends are trimmed.

One piece of context is used: an English possessive "'s" after a word is deleted, so "Sudan's" folds to
"sudan" (not "sudans", one edit from "sudani"). `fold(text, keep_possessive=True)` folds without that step;
rules index both forms of an alias ("Ra's al-Ayn" -> "ra al ayn" and "ras al ayn").

Pure: no I/O.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right, insort

APOSTROPHES = frozenset("'\u2019\u2018\u201b\u02bf\u02be\u02bc\u02bb\u02bd\u02b9`\u00b4\u2032\uff07")
"""Characters deleted by folding: "Kata'ib", "Kata’ib", "Kataʾib" and "Kata`ib" all fold to "kataib"."""

OPTIONAL_ARTICLES = frozenset({"al", "el"})
"""Standalone words the matcher treats as optional on both sides ("al-Nujaba" ~ "Nujaba")."""

_ARABIC = {
    "\u0671": "\u0627",  # ٱ alef wasla -> ا (أ إ آ lose their hamza/madda as combining marks after NFKD)
    "\u0672": "\u0627",  # ٲ alef with wavy hamza above
    "\u0673": "\u0627",  # ٳ alef with wavy hamza below
    "\u0674": "",  # ٴ high hamza (left by NFKD of ٵ ٶ ٷ ٸ)
    "\u0649": "\u064a",  # ى alef maksura -> ي
    "\u06cc": "\u064a",  # ی Persian yeh -> ي
    "\u06d0": "\u064a",  # ې
    "\u0629": "\u0647",  # ة teh marbuta -> ه
    "\u06c0": "\u0647",  # ۀ heh with yeh above
    "\u06c1": "\u0647",  # ہ heh goal
    "\u06be": "\u0647",  # ھ heh doachashmee
    "\u06d5": "\u0647",  # ە ae
    "\u06a9": "\u0643",  # ک keheh (Persian kaf) -> ك
    "\u06aa": "\u0643",  # ڪ swash kaf
    "\u0640": "",  # tatweel (kashida)
}

# No look-behind at the start of the pattern: it would stop re from scanning for the apostrophe quickly.
_POSSESSIVE = re.compile(r"['\u2019\u02bc][sS](?!\w)")

# Typographic characters common in news text, replaced by ASCII characters that fold the same way before
# translating, so that most English text takes str.translate's fast ASCII path. Lengths are preserved.
_TYPOGRAPHIC = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2014", "-"),
    ("\u2013", "-"),
    ("\u00a0", " "),
    ("\u2026", "."),
)


class _FoldTable(dict[int, str | None]):
    """Code point -> folded string (None: deleted), filled on first use (str.translate calls __missing__).

    Deletions are stored as None, not "": with "" CPython leaves its fast path for ASCII text (10x slower).
    """

    def __missing__(self, code_point: int) -> str | None:
        folded = _fold_char(chr(code_point)) or None
        self[code_point] = folded
        return folded


def _fold_char(char: str) -> str:
    if char in APOSTROPHES:
        return ""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    out: list[str] = []
    for part in decomposed:
        category = unicodedata.category(part)
        if category in ("Mn", "Me") or unicodedata.combining(part):
            continue
        if part in APOSTROPHES:
            continue
        if part in _ARABIC:
            out.append(_ARABIC[part])
        elif category == "Nd":
            out.append(str(unicodedata.decimal(part)))
        elif category[0] in "LN" or category == "Mc":
            out.append(part)
        elif category == "Cf":
            continue  # soft hyphen, ZWJ/ZWNJ, bidi marks: invisible inside words
        else:
            out.append(" ")
    return "".join(out)


_TABLE = _FoldTable()


def fold(text: str, *, keep_possessive: bool = False) -> str:
    """The folded form of `text`: what the matcher compares (see the module docstring for the steps)."""
    return " ".join(fold_words(text, keep_possessive=keep_possessive))


def fold_words(text: str, *, keep_possessive: bool = False) -> list[str]:
    """The words of `fold(text)` (what `fold(text).split()` gives, without building the joined string)."""
    if not text.isascii():
        for fancy, plain in _TYPOGRAPHIC:
            if fancy in text:
                text = text.replace(fancy, plain)
    if not keep_possessive and ("'s" in text or "'S" in text or "\u02bc" in text):
        spans = _possessive_spans(text)
        if spans:
            text = "".join(text[start:end] for start, end in _complement(spans, len(text)))
    return text.translate(_TABLE).split()


def _possessive_spans(text: str) -> list[tuple[int, int]]:
    """Spans of "'s" that end a word and follow a letter or digit: "Sudan's" but not "'s" alone."""
    spans = []
    for found in _POSSESSIVE.finditer(text):
        start = found.start()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            spans.append((start, found.end()))
    return spans


def _complement(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    kept = []
    position = 0
    for start, end in spans:
        kept.append((position, start))
        position = end
    kept.append((position, length))
    return kept


def fold_with_offsets(text: str, *, keep_possessive: bool = False) -> tuple[str, list[int]]:
    """`fold(text)` and, for each of its characters, the index in `text` of the character it came from.

    A collapsed space points at the first original character of the run it replaces.
    """
    skipped: set[int] = set()
    if not keep_possessive:
        for start, end in _possessive_spans(text):
            skipped.update(range(start, end))
    chars: list[str] = []
    offsets: list[int] = []
    space_at = -1  # original offset of a pending space, -1 when none is pending
    table = _TABLE
    for index, char in enumerate(text):
        if index in skipped:
            continue
        for part in table[ord(char)] or "":
            if part == " ":
                if chars and space_at < 0:
                    space_at = index
                continue
            if space_at >= 0:
                chars.append(" ")
                offsets.append(space_at)
                space_at = -1
            chars.append(part)
            offsets.append(index)
    return "".join(chars), offsets


class _ClassTable(dict[int, str]):
    """Code point -> one character telling what folding makes of it (see `WordSpans`)."""

    def __missing__(self, code_point: int) -> str:
        folded = _TABLE[code_point]
        if not folded:
            kind = _MARK if is_mark(chr(code_point)) else _GONE
        elif " " not in folded:
            kind = "w"
        elif not folded.strip():
            kind = " "
        else:
            kind = "?"  # letters and spaces from one character ("½" -> "1 2"): WordSpans takes the slow path
        self[code_point] = kind
        return kind


_GONE = "\x00"  # deleted: apostrophes, format characters, a possessive "'s"
_MARK = "\x01"  # deleted combining mark: kept at the end of a span ("Nujabá" written with U+0301)
_CLASSES = _ClassTable()


# Patterns over a class string; possessive quantifiers, so a failed match never re-splits a word (no backtracking).
_WORD_RUN = re.compile(r"[^ w]*+w[^ ]*+")  # a run of characters with a letter or digit: one word
_NEXT_WORD = re.compile(r"[^w]*+(w[^ ]*+)")  # from the end of a word: the next word (group 1)
_SKIP_WORDS = [(count, re.compile(f"(?:[^w]*+w[^ ]*+){{{count}}}")) for count in (256, 64, 16, 4, 1)]


class WordSpans:
    """Where each word of `fold(text)` sits in `text`: `span(k)` is (start, end) of word k in the original.

    The text is translated once (C-level) to one class character per original character ("w" letter or digit,
    " " separator, and deleted characters); a word is then found by skipping words in large steps with regular
    expressions, so asking for a few words of a long text costs a few C-level calls. Text with a character that
    folds to several words ("½") takes the exact slow path through `fold_with_offsets`. Apostrophes, a
    possessive "'s" and invisible characters at either end of a word are left out of its span; trailing
    combining marks are in.
    """

    def __init__(self, text: str) -> None:
        classes = text.translate(_CLASSES)
        if "'" in text or "\u2019" in text or "\u02bc" in text:
            for start, end in _possessive_spans(text):
                classes = classes[:start] + _GONE * (end - start) + classes[end:]
        self._classes = classes
        self._slow: list[tuple[int, int]] | None = None
        self._ends: dict[int, int] = {0: 0}  # words skipped -> where the last skipped word ends
        self._known = [0]  # the keys of _ends, sorted
        if "?" in classes:
            self._slow = self._slow_spans(text)

    def __len__(self) -> int:
        if self._slow is not None:
            return len(self._slow)
        return len(_WORD_RUN.findall(self._classes))

    def span(self, word: int) -> tuple[int, int]:
        """(start, end) in the original text of folded word number `word` (IndexError past the last word)."""
        if self._slow is not None:
            return self._slow[word]
        found = _NEXT_WORD.match(self._classes, self._skip(word))
        if found is None:
            raise IndexError(word)
        start, end = found.span(1)
        return start, end - (len(found.group(1)) - len(found.group(1).rstrip(_GONE)))

    def word_at(self, char: int) -> int:
        """Number of the word that contains original offset `char` (or the word before it)."""
        if self._slow is not None:
            return max(bisect_right([start for start, _ in self._slow], char) - 1, 0)
        return max(len(_WORD_RUN.findall(self._classes, 0, char + 1)) - 1, 0)

    def _skip(self, count: int) -> int:
        """Offset just after word number `count - 1` (0 for no word)."""
        done = self._known[bisect_right(self._known, count) - 1]
        position = self._ends[done]
        for step, pattern in _SKIP_WORDS:
            while count - done >= step:
                found = pattern.match(self._classes, position)
                if found is None:
                    break
                position = found.end()
                done += step
        if done < count:
            raise IndexError(count)
        if count not in self._ends:
            self._ends[count] = position
            insort(self._known, count)
        return position

    @staticmethod
    def _slow_spans(text: str) -> list[tuple[int, int]]:
        folded, offsets = fold_with_offsets(text)
        spans = []
        position = 0
        for word in folded.split(" ") if folded else []:
            start = offsets[position]
            end = offsets[position + len(word) - 1] + 1
            while end < len(text) and is_mark(text[end]):
                end += 1
            spans.append((start, end))
            position += len(word) + 1
        return spans


def is_mark(char: str) -> bool:
    """True for a combining mark (what folding drops after a base letter, e.g. U+0301 or Arabic harakat)."""
    return unicodedata.category(char) in ("Mn", "Me")


_HTML_DROP_HINT = re.compile(r"<(?:!--|script|style)", re.IGNORECASE)
_HTML_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_HTML_BLOCK = re.compile(
    r"</?(?:address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|hr|li|main|"
    r"nav|ol|p|pre|section|table|td|th|tr|ul)(?![A-Za-z0-9])[^>]*>",
    re.IGNORECASE,
)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>|<![^>]*>|<\?[^>]*>")


def strip_html(markup: str) -> str:
    """Plain text of an HTML fragment (a feed summary or content), for matching.

    Scripts, styles and comments are dropped; block tags (<p>, <br>, <li>, <div>, <td>...) become line
    breaks, which end sentences; other tags (<b>, <a>, <span>, <img>...) vanish, so "<b>Kata</b>'ib" stays one
    word; entities are decoded. Text without "<" or "&" is returned as it is.
    """
    if "<" in markup:
        if _HTML_DROP_HINT.search(markup):
            markup = _HTML_DROP.sub(" ", markup)
        markup = _HTML_BLOCK.sub("\n", markup)
        markup = _HTML_TAG.sub("", markup)
    return html.unescape(markup) if "&" in markup else markup
