"""The dev kit lives beside the shipped package (devkit/), and finds the repository from there."""

from __future__ import annotations

from devkit.stack import REPO_ROOT


def test_the_dev_kit_finds_the_repository() -> None:
    assert (REPO_ROOT / "pyproject.toml").is_file()
    assert (REPO_ROOT / "devkit" / "stack.py").is_file() and (REPO_ROOT / "services").is_dir()


def test_the_shipped_package_holds_no_dev_kit() -> None:
    for gone in ("devstack", "demo.py", "triton_local.py", "client.py"):
        assert not (REPO_ROOT / "picloss" / gone).exists(), gone
