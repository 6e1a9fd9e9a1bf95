"""Drive a URL with `wrk` (Debian package) from a second process, with pre-signed distinct request bodies
(wrk's Lua has no HMAC): every body has its own nonce and req_seqno, signed with picloss's own `sign`."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devkit.client import REQUEST_PATH
from picloss.protocol import json as pjson
from picloss.protocol.signing import new_nonce, sign

LUA = r"""
local bodies, sigs, i = {}, {}, 0
local path = "%(path)s"
local delay_ms = %(delay_ms)s
init = function(args)
  for line in io.lines("%(file)s") do
    local sig, body = line:match("^(%%x+)\t(.*)$")
    sigs[#sigs + 1] = sig
    bodies[#bodies + 1] = body
  end
end
request = function()
  i = i + 1
  if i > #bodies then i = 1 end
  return wrk.format("POST", path, {["Content-Type"] = "text/json", ["Signature"] = sigs[i]}, bodies[i])
end
if delay_ms > 0 then
  delay = function() return delay_ms end
end
done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%%d seconds=%%.3f non2xx=%%d errors=%%d p50_us=%%d p99_us=%%d\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

RESULT = re.compile(
    r"WRK requests=(\d+) seconds=([\d.]+) non2xx=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+)"
)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def presign(
    path: Path, count: int, appid: str, mchid: str, key: str, fileurl: str, callback_url: str
) -> None:
    now = int(time.time())
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            raw = pjson.dumps(
                {
                    "appid": appid,
                    "mchid": mchid,
                    "nonce": new_nonce(),
                    "timestamp": now,
                    "files": [{"fileurl": fileurl}],
                    "model": "SINGLE",
                    "req_seqno": "bench-" + uuid.uuid4().hex,
                    "callback_url": callback_url,
                }
            )
            out.write(f"{sign(raw, key)}\t{raw.decode('utf-8')}\n")


def run_wrk(
    url: str,
    bodies: Path,
    script: Path,
    *,
    seconds: int,
    connections: int,
    rate_per_s: float | None = None,
    delay_ms: int | None = None,
) -> WrkResult:
    """Closed loop at full speed, or each connection pausing `delay_ms` (default: enough for about
    `rate_per_s` in all, ignoring the response time; see `delay_for_rate`)."""
    if delay_ms is None:
        delay_ms = 0 if not rate_per_s else max(1, int(connections / rate_per_s * 1000))
    script.write_text(LUA % {"path": REQUEST_PATH, "file": str(bodies), "delay_ms": delay_ms})
    proc = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    found = RESULT.search(proc.stdout)
    if not found:
        raise RuntimeError(f"wrk gave no result:\n{proc.stdout}\n{proc.stderr}")
    n, secs, non2xx, errors, p50, p99 = found.groups()
    return WrkResult(int(n), float(secs), int(non2xx), int(errors), int(p50) / 1000, int(p99) / 1000)


def delay_for_rate(rate_per_s: float, connections: int, probe: WrkResult, probe_delay_ms: int) -> int:
    """Each connection cycles every (delay + response time); a probe run at `probe_delay_ms` tells the
    response time, so the pause that gives `rate_per_s` in all is the cycle minus that."""
    response_ms = connections / probe.rps * 1000 - probe_delay_ms
    return max(1, int(connections / rate_per_s * 1000 - response_ms))
