"""The README's promises: the two quick-start commands, and a check table that matches the metadata."""
from __future__ import annotations

import re

from warden.docs import README, render


def test_readme_check_table_matches_the_remediator_metadata():
    text = README.read_text()
    assert render(text) == text, "README.md's check table is stale: run `python -m warden.docs`"


def test_quick_start_is_exactly_make_demo_and_make_test():
    text = README.read_text()
    block = re.search(r"## Quick start\n(.*?)\n## ", text, re.S).group(1)
    commands = re.findall(r"^(?:\$ )?(make \w+)$", re.search(r"```(?:sh|bash)?\n(.*?)```", block, re.S).group(1), re.M)
    assert commands == ["make demo", "make test"]
