"""How close an item reads to a story's article: the optional meaning stage of matching (`[stories.ID]`).

`pip install 'monitor[semantic]'` adds wordllama, whose 256-dimension static embedding model ships inside its
wheel (16 MB): nothing is downloaded, ever. An item's text and a story's article are embedded (the mean of
their tokens' vectors, normalised) and compared by cosine similarity, 0 (unrelated) to 1. Measured on real
outlet headlines against four stories' articles: AUC 0.89-0.97, but the threshold that separates a story's
items from the rest differs per story (docs/rules.md, "Stories").

Only this module imports wordllama, and only when a rule set has stories: the default install and every
command that does not match against stories never load it. Pure apart from loading the model once.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INSTALL_HINT = "install the semantic extra: pip install 'monitor[semantic]'"


def available() -> bool:
    """Whether the model can be loaded (wordllama is installed)."""
    return importlib.util.find_spec("wordllama") is not None


class Embedder:
    """Texts -> unit vectors with wordllama's shipped model; `similarity(a, b)` is their dot product."""

    def __init__(self) -> None:
        import wordllama

        # The wheel holds weights/ and tokenizers/, but load() looks for the tokenizer in tokenizer/ first and
        # then in cache_dir/tokenizers/: the package directory itself is a cache_dir that has both.
        package = Path(wordllama.__file__).resolve().parent
        self._model: Any = wordllama.WordLlama.load(cache_dir=package, disable_download=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of `texts` (a text without words gets a zero vector, similar to nothing)."""
        if not texts:
            return []
        vectors = self._model.embed([text if text.strip() else "." for text in texts], norm=False)
        result = []
        for text, vector in zip(texts, vectors.tolist(), strict=True):
            norm = math.sqrt(sum(value * value for value in vector))
            result.append([value / norm for value in vector] if norm and text.strip() else [0.0] * len(vector))
        return result


def similarity(first: Sequence[float], second: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors (their dot product), 0 for a zero vector."""
    return float(sum(a * b for a, b in zip(first, second, strict=True)))


@functools.cache
def embedder() -> Embedder:
    """The one Embedder of this process (the model takes about 0.3 s to load)."""
    return Embedder()


def calibrate(article_sentences: Sequence[str], article: str, percentile: float = 0.75) -> float:
    """A threshold for a story from its own article: the `percentile` of its sentences' similarity to it.

    A sentence of the article is as close as a report of the story gets in one line; most reports read like
    its more central sentences. Rounded to two decimals, at least 0.3.
    """
    model = embedder()
    story = model.embed([article])[0]
    scores = sorted(similarity(vector, story) for vector in model.embed(list(article_sentences)) if any(vector))
    if not scores:
        return 0.5
    position = min(len(scores) - 1, max(0, round(percentile * (len(scores) - 1))))
    return max(0.3, round(scores[position], 2))
