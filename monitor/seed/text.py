"""A pasted article -> its sentences, each marked as headline, lede, subheading or body; boilerplate left out.

What is not the story's text is dropped before any name is looked for: comment lines (`# source: ...`),
bylines ("By Jane Doe"), photo and video credits ("(AP Photo/...)", "Getty Images"), "Read more" and
newsletter prompts, agency tags ("(AP)", "(Reuters)") and datelines ("ANTAKYA, Turkey —", "WASHINGTON –"),
whose place is kept apart as a weak mention. The first short line without a final full stop is the headline;
later short lines are subheadings; the first two sentences of the first paragraph are the lede. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADLINE = "headline"
LEDE = "lede"
SUBHEAD = "subhead"
BODY = "body"

WEIGHTS = {HEADLINE: 3.0, LEDE: 2.0, SUBHEAD: 1.5, BODY: 1.0}
"""How much a mention counts toward a name's salience by where it is: the headline and lede say what matters."""


@dataclass(frozen=True)
class Sentence:
    """One sentence (or headline) of the document, where it stands, and whether it is written in Title Case."""

    index: int
    text: str
    part: str  # HEADLINE, LEDE, SUBHEAD or BODY
    title_case: bool  # capitals say nothing about names in a Title Case line

    @property
    def weight(self) -> float:
        """WEIGHTS[part]."""
        return WEIGHTS[self.part]


@dataclass(frozen=True)
class Document:
    """The story's text as sentences, its language, and what was taken out of it."""

    sentences: tuple[Sentence, ...]
    language: str  # "en" or "ar"
    dateline_places: tuple[str, ...]  # "Antakya" of "ANTAKYA, Turkey —"
    outlets: tuple[str, ...]  # agencies named in datelines and credits ("AP", "Reuters")

    @property
    def headline(self) -> str | None:
        """The headline's text, when the document starts with one."""
        first = self.sentences[0] if self.sentences else None
        return first.text if first is not None and first.part == HEADLINE else None


_BOILERPLATE = re.compile(
    r"^(?:read more|advertisement|sign up\b.*|subscribe\b.*|follow us\b.*|share this\b.*|copyright\b.*|©.*|"
    r"related:?.*|recommended:?.*|watch:.*|listen:.*|click here\b.*|this story has been updated\b.*|"
    r"(?:additional )?(?:reporting|writing|editing|research) by\b.*|.*\bcontributed (?:to this report|reporting)\b.*|"
    r"by [A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){0,3}(?:,? (?:and|&) [A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){0,3})*"
    r"(?:,? (?:the )?(?:associated press|reuters|afp|usa today|bbc|cnn))?\.?|"
    r"(?:photo|image|video|graphic|credit)s?(?: credit)?:.*)$",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"\((?:[^()]*\b(?:photo|photograph|image|pictured|file)\b[^()]*|[^()]*/\s*(?:getty images|afp|ap|reuters|epa|"
    r"anadolu|sipa)[^()]*)\)",
    re.IGNORECASE,
)
_AGENCY_TAG = re.compile(r"\(\s*(AP|AFP|Reuters|UPI|dpa|DPA|ANSA|Xinhua|TASS|IRNA|SANA|Anadolu)\s*\)")
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]+(?: [A-Z][A-Z'’.\-]+){0,3})"  # ANTAKYA / GAZA CITY / WASHINGTON
    r"(?:,\s*(?P<region>[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){0,2}))?"  # , Turkey
    r"(?:,?\s*[A-Z][a-z]{2,8}\.? \d{1,2})?"  # , Nov. 24
    r"\s*(?:\(\s*(?P<agency>[A-Za-z .&]{2,30})\s*\))?"  # (AP)
    r"\s*[-–—]{1,2}\s+"
)
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9\u0600-\u06FF])|(?<=[.!?؟])\s*\n")
# Abbreviations after which a full stop ends no sentence.
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Lt|Col|Maj|Capt|Sgt|Brig|Adm|St|Jr|Sr|No|vs|Mt|Ft|Inc|Co|Corp|"
    r"Ltd|Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec|approx|est|e\.g|i\.e)\.|\b[A-Z]\.)$"
)
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


def read_document(text: str) -> Document:
    """Split `text` into marked sentences with boilerplate, credits and datelines taken out."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if not line.lstrip().startswith("#")]
    paragraphs = [" ".join(part.split()) for part in re.split(r"\n\s*\n|\n(?=\S)", "\n".join(lines))]
    dateline_places: list[str] = []
    outlets: list[str] = []
    sentences: list[Sentence] = []
    body_paragraphs = 0
    for raw in paragraphs:
        if not raw or _BOILERPLATE.match(raw) or not any(ch.isalpha() for ch in raw):
            continue
        paragraph = _CREDIT.sub(" ", raw)
        for agency in _AGENCY_TAG.findall(paragraph):
            outlets.append(agency)
        paragraph = " ".join(_AGENCY_TAG.sub(" ", paragraph).split())
        dateline = _DATELINE.match(paragraph)
        if dateline and dateline.group("place").upper() == dateline.group("place"):
            dateline_places.append(dateline.group("place").title())
            if dateline.group("agency"):
                outlets.append(dateline.group("agency").strip())
            paragraph = paragraph[dateline.end() :]
        if not paragraph:
            continue
        if _is_heading(paragraph):
            part = HEADLINE if not sentences else SUBHEAD
            sentences.append(Sentence(len(sentences), paragraph, part, _is_title_case(paragraph)))
            continue
        body_paragraphs += 1
        for number, piece in enumerate(split_sentences(paragraph)):
            part = LEDE if body_paragraphs == 1 and number < 2 else BODY
            sentences.append(Sentence(len(sentences), piece, part, False))
    letters = "".join(sentence.text for sentence in sentences)
    arabic = len(_ARABIC_LETTER.findall(letters))
    language = "ar" if arabic > len(_LATIN_LETTER.findall(letters)) else "en"
    return Document(tuple(sentences), language, tuple(dict.fromkeys(dateline_places)), tuple(dict.fromkeys(outlets)))


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph; a full stop after "Mr", "U.S." or an initial ends none."""
    pieces: list[str] = []
    start = 0
    for found in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start : found.start()].rstrip()
        if _ABBREVIATIONS.search(candidate):
            continue
        if candidate.strip():
            pieces.append(candidate.strip())
        start = found.end()
    rest = paragraph[start:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _is_heading(paragraph: str) -> bool:
    """A short line that does not end like a sentence: a headline or a subheading."""
    words = paragraph.split()
    return 0 < len(words) <= 25 and not paragraph.rstrip("\"'”’ ").endswith((".", "!", ":", ";", ","))


def _is_title_case(text: str) -> bool:
    """Most words capitalised (3 or more words): a Title Case headline, where capitals do not mark names."""
    words = [word for word in _WORD.findall(text) if word[0].isascii()]
    if len(words) < 3:
        return False
    small = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "but", "by", "with", "as", "vs"}
    capitalised = sum(1 for word in words if word[0].isupper() or word.lower() in small)
    return capitalised / len(words) >= 0.8 and sum(1 for word in words if word[0].isupper()) >= 3
