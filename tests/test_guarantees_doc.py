"""docs/guarantees.md ("What billing_cli guarantees") names the test behind each promise: every
name it gives must be a test that exists, so a renamed or deleted test cannot leave a promise
unchecked while the page still claims otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", ["docs/guarantees.md", "README.md"])
def test_every_test_named_in_the_guarantees_exists(page: str) -> None:
    doc = (ROOT / page).read_text(encoding="utf-8")
    defined = {
        path.name: set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
        for path in (ROOT / "tests").glob("test_*.py")
    }
    everywhere = set().union(*defined.values())
    qualified = re.findall(r"tests/(test_\w+\.py)::(test_\w+)", doc)
    assert qualified, "the page names no tests"
    missing = [f"{f}::{t}" for f, t in qualified if t not in defined.get(f, set())]
    missing += sorted({t for t in re.findall(r"`(test_\w+)`", doc) if t not in everywhere})
    files = set(re.findall(r"`tests/(test_\w+\.py)`", doc))
    missing += sorted(f for f in files if f not in defined)
    assert not missing, f"{page} names tests that do not exist: {missing}"
