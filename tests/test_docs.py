"""The README's promises: its test command is what CI runs, and its tour's rule file really works."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from monitor.match import Matcher
from monitor.rules import load_rules, run_examples

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run extracts exactly the README's test command, which installs the test extra and runs pytest."""
    extracted = subprocess.run(
        ["awk", "/^Install and pass the tests/ {found=1} found && /^python3 / {print; exit}", "README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted.startswith("python3 -m venv .venv")
    assert "'.[test]'" in extracted
    assert "pytest" in extracted
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "/^Install and pass the tests/" in ci
    assert 'eval "$test_command"' in ci


def test_tour_rule_file_loads_and_its_examples_pass(tmp_path: Path) -> None:
    """The rule file shown in the README's tour loads beside the shipped rules and its examples pass."""
    block = README.split("A file `rules/badr.toml`:")[1].split("```toml")[1].split("```")[0]
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "badr.toml").write_text(block, encoding="utf-8")
    ruleset = load_rules(rules)
    results = [result for result in run_examples(ruleset, Matcher(ruleset)) if result.rule == "badr"]
    assert len(results) == 2
    assert all(result.passed for result in results)
