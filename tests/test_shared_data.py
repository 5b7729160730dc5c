"""The worked examples are vendored under tests/data/ so the suite needs nothing outside the
repo; where the project's shared folder sits beside the checkout (CI), they must be identical,
so an update to the shared cases cannot be missed."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "examples"
NAMES = ["pricing.json", "alpaca.md"]


@pytest.mark.parametrize("name", NAMES)
def test_vendored_example_is_present(name: str) -> None:
    assert (DATA / name).stat().st_size > 0


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/examples beside this checkout")
@pytest.mark.parametrize("name", NAMES)
def test_vendored_example_equals_shared(name: str) -> None:
    assert (DATA / name).read_bytes() == (SHARED / name).read_bytes(), (
        f"tests/data/{name} differs from {SHARED / name}: copy the shared file over it"
    )
