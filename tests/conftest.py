"""Shared fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The public corpora beside the repository, or skip when they are not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"corpora folder {SHARED_DATA} is not present")
    return SHARED_DATA
