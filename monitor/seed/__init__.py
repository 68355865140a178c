"""Seed draft watch rules for a new story from one pasted article (`monitor seed FILE`).

The stages, each its own module, all pure but `write_draft`:
  text.py      the article -> sentences marked headline / lede / body; bylines, credits, datelines out
  names.py     sentences -> name mentions, with kind, role, acronyms and nicknames the text gives
  actors.py    mentions -> actors with a scope: core (alerts alone), context (with story terms), left out
  themes.py    sentences -> the story's own words (frequent here, rare in ordinary text)
  variants.py  names -> transliteration variants and Arabic script
  draft.py     actors + terms -> a rule file whose ids carry the story's name and whose examples pass
  lexicon.py   the general knowledge all of them use (seed/data/*.toml, wordfreq's word frequencies)
Nothing in them is about one story: the stories monitor is judged on are not the ones it was built on.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from monitor.errors import MonitorError
from monitor.seed.actors import CONTEXT, CORE, LEFT_OUT, Actor, gather
from monitor.seed.draft import DRAFT_HEADER, DraftRule, DraftTerm, SeedDraft, build_draft, story_slug
from monitor.seed.lexicon import transliteration, world
from monitor.seed.names import find_mentions
from monitor.seed.text import read_document
from monitor.seed.themes import theme_terms

__all__ = [
    "CONTEXT",
    "CORE",
    "DRAFT_HEADER",
    "LEFT_OUT",
    "Actor",
    "DraftRule",
    "DraftTerm",
    "SeedDraft",
    "SeedError",
    "seed_document",
    "story_slug",
    "write_draft",
]


class SeedError(MonitorError):
    """A draft rule file could not be written (directory missing and not creatable, or not writable)."""

    exit_code = 1


def seed_document(text: str, *, source_name: str, story: str | None = None, semantic: bool | None = None) -> SeedDraft:
    """The draft rules for the story `text` tells; `story` names it (default: `source_name` without suffix).

    `semantic` (default: whether the semantic extra is installed) adds the article and a rule for broad actors
    in items that read close to it. Pure and deterministic: the same text gives the same draft.
    """
    if semantic is None:
        from monitor.semantic import available

        semantic = available()
    knowledge = world()
    document = read_document(text)
    mentions = find_mentions(document, knowledge)
    actors = gather(mentions, knowledge, document.language)
    name_words = frozenset(
        word for actor in actors for surface in (actor.name, *actor.surfaces) for word in _words(surface)
    )
    themes = theme_terms(document, name_words, knowledge)
    slug = story_slug(story or Path(source_name).stem)
    return build_draft(
        document,
        actors,
        themes,
        story=slug,
        source_name=source_name,
        world=knowledge,
        table=transliteration(),
        semantic=semantic,
    )


def _words(name: str) -> list[str]:
    from monitor.normalize import fold

    return fold(name).split()


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
