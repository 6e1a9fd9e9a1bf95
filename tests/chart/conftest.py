"""Fixtures of the chart tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from helm import ensure_helm


@pytest.fixture(scope="session")
def helm() -> Path:
    """The pinned helm binary (tools/helm.py fetches it once)."""
    return ensure_helm()
