"""pytest puts each folder holding test files on sys.path (rootdir-relative imports, no __init__.py), so its sub-folders
become importable namespace packages. One named like a package that is *absent* then stands in for it:
`tests/integration/triton` made torch's `find_spec("triton")` succeed in the full run, and its ONNX export failed on
`triton.language`. Sub-folders of test folders must not take the names libraries probe for."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
# names that torch, onnx, grpc, PIL or the project probe with find_spec / try-import (optional accelerators, plugins)
PROBED = {"triton", "tensorrt", "cupy", "apex", "deepspeed", "xformers", "onnxscript", "jax", "tensorflow",
          "torchvision", "pytriton", "tritonclient", "playwright", "matplotlib"}


def test_no_test_folder_stands_in_for_a_probed_package() -> None:
    on_path = {p.parent for p in TESTS.rglob("*.py") if p.name.startswith("test_") or p.name == "conftest.py"}
    clashes = sorted(str(child.relative_to(TESTS)) for folder in on_path for child in folder.iterdir()
                     if child.is_dir() and child.name in PROBED)
    assert not clashes, f"rename these test folders: {clashes}"
