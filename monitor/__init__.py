"""monitor: an event-monitoring alert daemon.

Polls RSS/Atom feeds, fuzzy-matches every new item against watch rules, remembers what it has seen in SQLite
and pushes each alert once through apprise. See docs/design.md for the pipeline and README.md for a tour.
"""

__version__ = "0.1.0"
