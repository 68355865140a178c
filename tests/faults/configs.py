"""Bad configurations and rule files for the fault suite: each must give one line naming file, line and key.

A `BadSetup` is a monitor.toml text and rule files, the file and line the error must name, and words the one
line must contain (the key, or what is wrong). tests/test_faults.py runs `monitor --config monitor.toml run
--once` on each (and `monitor rules check` on the rule cases): exit code 2, one line on stderr, no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.faults.bodies import RULES

FEED = '[[feeds]]\nurl = "http://127.0.0.1:9/feed.xml"\nname = "wire"\n'
BASE = f'database = "state/monitor.db"\nrules = "rules"\n{FEED}'
"""A valid configuration: rules in ./rules, one feed (never fetched: every case fails before polling)."""

RULE_TERM = '[actors.badr]\nname = "Badr Organization"\naliases = ["Badr Brigades"]\n'


@dataclass(frozen=True)
class BadSetup:
    """One mistake: the files to write, and what the one-line error must say."""

    name: str
    config: str = BASE
    rules: dict[str, str] = field(default_factory=dict)  # file name in rules/ -> text (militias.toml is good)
    file: str = "monitor.toml"  # the file the error names, relative to the case directory
    line: int | None = 1  # None: the error names a directory
    words: tuple[str, ...] = ()
    rules_check: bool = True  # for a rule mistake: `monitor rules check` finds it too (targets it cannot know)

    @property
    def is_rules(self) -> bool:
        """Whether the mistake is in a rule file (then `monitor rules check` must report it too)."""
        return self.file.startswith("rules/")


CONFIG_MISTAKES: tuple[BadSetup, ...] = (
    BadSetup("toml-syntax", 'interval = "10m"\n[[feeds]\nurl = "x"\n', line=2, words=("TOML",)),
    BadSetup("unknown-key", 'intervall = "10m"\n' + BASE, words=("intervall", "unknown key")),
    BadSetup("unknown-fetch-key", BASE + '[fetch]\ntimeout = "5s"\n', line=7, words=("fetch.timeout", "unknown key")),
    BadSetup("bad-duration", BASE + '[fetch]\ndeadline = "fast"\n', line=7, words=("fetch.deadline", "duration")),
    BadSetup("bad-size", BASE + '[fetch]\nmax_size = "huge"\n', line=7, words=("fetch.max_size", "size")),
    BadSetup("duration-too-short", 'interval = "1s"\n' + BASE, words=("interval", "at least")),
    BadSetup("wrong-type", "backfill = true\n" + BASE, words=("backfill",)),
    BadSetup("zero-concurrency", "concurrency = 0\n" + BASE, words=("concurrency", ">= 1")),
    BadSetup("fetch-not-a-table", "fetch = 5\n" + BASE, words=("fetch", "table")),
    BadSetup("feed-without-url", BASE + '[[feeds]]\nname = "nameless"\n', line=6, words=("feeds", "no url")),
    BadSetup(
        "feed-not-http", BASE + '[[feeds]]\nurl = "ftp://example.org/feed"\n', line=7, words=("feeds.url", "http")
    ),
    BadSetup(
        "feed-listed-twice",
        BASE + '[[feeds]]\nurl = "http://127.0.0.1:9/feed.xml"\n',
        line=7,
        words=("feeds.url", "twice"),
    ),
    BadSetup("unknown-feed-key", BASE + "refresh = 5\n", line=6, words=("feeds.refresh", "unknown key")),
    BadSetup(
        "target-missing-variable",
        BASE + '[[targets]]\nurl = "mailto://${NO_SUCH_MONITOR_VARIABLE}@example.org"\n',
        line=7,
        words=("NO_SUCH_MONITOR_VARIABLE",),
    ),
    BadSetup(
        "target-bad-severity",
        BASE + '[[targets]]\nurl = "json://127.0.0.1:9/hook"\nmin_severity = "urgent"\n',
        line=8,
        words=("targets.min_severity", "urgent"),
    ),
    BadSetup("bad-timezone", 'timezone = "Mars/Olympus_Mons"\n' + BASE, words=("timezone", "Mars")),
    BadSetup(
        "rules-dir-missing",
        BASE.replace('rules = "rules"', 'rules = "no-such-rules"'),
        file="no-such-rules",
        line=None,
        words=("rules directory not found",),
    ),
)

RULE_MISTAKES: tuple[BadSetup, ...] = (
    BadSetup("rule-toml-syntax", rules={"bad.toml": "[rules.x\nany = []\n"}, file="rules/bad.toml", line=1),
    BadSetup(
        "rule-unknown-key",
        rules={"bad.toml": RULE_TERM + '[rules.badr]\nany = ["badr"]\nsevirity = "high"\n'},
        file="rules/bad.toml",
        line=6,
        words=("badr", "sevirity"),
    ),
    BadSetup(
        "rule-unknown-term",
        rules={"bad.toml": '[rules.ghost]\nany = ["nobody-at-all"]\n'},
        file="rules/bad.toml",
        line=2,
        words=("ghost", "nobody-at-all"),
    ),
    BadSetup(
        "rule-bad-severity",
        rules={"bad.toml": RULE_TERM + '[rules.badr]\nany = ["badr"]\nseverity = "urgent"\n'},
        file="rules/bad.toml",
        line=6,
        words=("badr", "urgent"),
    ),
    BadSetup(
        "rule-bad-fuzziness",
        rules={"bad.toml": RULE_TERM + '[rules.badr]\nany = ["badr"]\nfuzziness = "very"\n'},
        file="rules/bad.toml",
        line=6,
        words=("badr", "very"),
    ),
    BadSetup(
        "rule-without-terms",
        rules={"bad.toml": RULE_TERM + '[rules.badr]\ndescription = "nothing to find"\n'},
        file="rules/bad.toml",
        line=4,
        words=("badr",),
    ),
    BadSetup(
        "duplicate-id-across-files",
        rules={"bad.toml": '[actors.kataib-hezbollah]\nname = "Someone else"\naliases = ["Other"]\n'},
        file="rules/militias.toml",
        line=2,
        words=("kataib-hezbollah", "bad.toml:1"),
    ),
    BadSetup(
        "term-without-alias",
        rules={"bad.toml": '[actors.empty]\nname = ""\naliases = []\n[rules.empty]\nany = ["empty"]\n'},
        file="rules/bad.toml",
        line=1,
        words=("empty",),
    ),
    BadSetup(
        "rule-unknown-target",
        config=BASE + '[[targets]]\nname = "mail"\nurl = "json://127.0.0.1:9/hook"\n',
        rules={"bad.toml": RULE_TERM + '[rules.badr]\nany = ["badr"]\ntargets = ["pager"]\n'},
        file="rules/bad.toml",
        line=4,
        words=("badr", "pager"),
        rules_check=False,
    ),
)

GOOD_RULES = {"militias.toml": RULES}
