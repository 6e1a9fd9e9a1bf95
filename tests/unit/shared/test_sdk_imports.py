"""The SDK, the report and `picloss --help` need only the standard library (the `client` extra)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SERVER_MODULES = ("aiohttp", "asyncpg", "confluent_kafka", "grpc", "google", "numpy", "onnxruntime", "cv2",
                  "structlog", "prometheus_client", "tritonclient", "yaml", "dotenv", "rapidocr")

PROBE = """
import io, json, sys, contextlib
sys.path.insert(0, {repo!r})
import picloss.client.sdk, picloss.client.sdk.labels, picloss.client.report, picloss.client.cli
codes = []
for argv in (["--help"], ["submit", "--help"], ["listen", "--help"], ["verify", "--help"], ["query", "--help"],
             ["report", "--help"], ["labels", "--help"], ["labels", "export", "--help"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            picloss.client.cli.main(argv)
        except SystemExit as exc:
            codes.append((exc.code, len(out.getvalue())))
top = {{m.split(".")[0] for m in sys.modules}}
third_party = sorted(top - set(sys.stdlib_module_names) - {{"picloss", "__main__"}})
print(json.dumps({{"codes": codes, "third_party": third_party}}))
"""


def test_sdk_report_and_help_import_only_the_standard_library() -> None:
    # -S: no site-packages at all, so any import of a server (or any third-party) dependency fails
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE.format(repo=str(REPO))], capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["third_party"] == []
    assert len(result["codes"]) == 8
    assert all(code == 0 and size > 200 for code, size in result["codes"]), result["codes"]


def test_console_script_help_loads_no_server_dependency() -> None:
    script = shutil.which("picloss", path=str(Path(sys.executable).parent))
    assert script is not None, "the picloss console script is not installed (make install)"
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "submit" in proc.stdout and "report" in proc.stdout
    probe = ("import sys, runpy; sys.argv = ['picloss', '--help']\n"
             "try:\n    runpy.run_module('picloss.client.cli', run_name='__main__')\nexcept SystemExit: pass\n"
             f"print('\\nLOADED', sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_MODULES!r}))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.stdout.rstrip().endswith("LOADED []"), proc.stdout[-500:] + proc.stderr[-500:]


def test_pyproject_declares_the_script_and_a_small_client_extra() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["picloss"] == "picloss.client.cli:main"
    client = project["optional-dependencies"]["client"]
    assert 0 < len(client) <= 3 and all(not dep.startswith(("aiohttp", "asyncpg", "grpcio", "confluent"))
                                        for dep in client)


def test_sdk_first_then_the_server_package_share_one_signing_module() -> None:
    probe = ("import picloss.client.sdk, picloss.client.sdk._protocol as p\n"
             "import picloss.protocol, picloss.protocol.signing as s\n"
             "from unittest import mock\n"
             "assert s is p.signing and picloss.protocol.signing is s and picloss.protocol.sign is s.sign\n"
             "assert picloss.protocol.codes is p.codes\n"
             "with mock.patch('picloss.protocol.signing.sign', lambda body, key: 'PATCHED'):\n"
             "    assert picloss.client.sdk.sign(b'', 'k') == 'PATCHED'\n"
             "print('ok')")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_pip_resolves_the_client_extra_to_pillow_alone(tmp_path: Path) -> None:
    """What `pip install 'picloss[client]'` would pull: the package's own metadata, built by pip (offline)."""
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-build-isolation",
         "--no-deps", "--no-index", "--quiet", "--report", str(report), ".[client]"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (item,) = json.loads(report.read_text())["install"]
    required = item["metadata"].get("requires_dist", [])
    base = [r for r in required if ";" not in r]
    client = sorted(r.split(";")[0].split("==")[0].strip() for r in required if 'extra == "client"' in r)
    assert base == [] and client == ["pillow"], required
    assert any('extra == "server"' in r and r.startswith("aiohttp") for r in required)  # the service's own extra
