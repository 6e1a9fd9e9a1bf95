"""The queries of the chart's Grafana dashboard and alert rules as Prometheus gets them: Grafana's variables
substituted (its built-ins by their documented definitions), and an alert's value without its threshold."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


# ------------------------------------------------------------------------------- Grafana variables
def parse_duration(text: str) -> float:
    """`1s`, `15s`, `2m`, `500ms`, `1h` -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def promql_duration(seconds: float) -> str:
    """A PromQL duration: whole seconds as `Ns`, otherwise milliseconds."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def grafana_interval(range_s: float, scrape_interval_s: float, max_data_points: int = 1000) -> float:
    """$__interval: the time range over the panel's data points, never below the data source's scrape
    interval (Grafana's "min interval"), rounded up to whole seconds."""
    return float(max(scrape_interval_s, math.ceil(range_s / max_data_points)))


def grafana_builtins(range_s: float, scrape_interval_s: float, max_data_points: int = 1000) -> dict[str, str]:
    """The built-in variables Grafana substitutes in a Prometheus query. $__rate_interval is
    max($__interval + scrape interval, 4 × scrape interval) (Grafana's documented definition)."""
    interval = grafana_interval(range_s, scrape_interval_s, max_data_points)
    rate_interval = max(interval + scrape_interval_s, 4 * scrape_interval_s)
    return {
        "__interval": promql_duration(interval),
        "__interval_ms": str(int(interval * 1000)),
        "__rate_interval": promql_duration(rate_interval),
        "__rate_interval_ms": str(int(rate_interval * 1000)),
        "__range": promql_duration(math.ceil(range_s)),
        "__range_s": str(math.ceil(range_s)),
        "__range_ms": str(int(math.ceil(range_s) * 1000)),
    }


_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Grafana's `$name`, `${name}`, `${name:format}` and `[[name]]`; an unknown variable is an error (a
    query Grafana could not run either)."""
    def one(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        if name not in variables:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return variables[name]

    return _VARIABLE.sub(one, expr)


def dashboard_variables(dashboard: Mapping[str, Any], datasource_uid: str = "prometheus") -> dict[str, str]:
    """Each templating variable as Grafana sets it on first load: the data source's uid, and `All` for a
    multi-value query variable with includeAll (its allValue, `.*` here)."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] == "datasource":
            values[var["name"]] = datasource_uid
        elif var.get("includeAll"):
            values[var["name"]] = var.get("allValue") or ".*"
        elif var.get("current", {}).get("value") not in (None, "", []):
            values[var["name"]] = str(var["current"]["value"])
        else:
            raise ValueError(f"variable {var['name']}: no All value and no current value to substitute")
    return values


def variable_queries(dashboard: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (metric selector, label) of every `label_values(selector, label)` query variable."""
    found = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        query = var.get("definition") or var.get("query", {}).get("query", "")
        match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
        if not match:
            raise ValueError(f"variable {var['name']}: only label_values(selector, label) is supported: {query}")
        found[var["name"]] = (match.group(1).strip(), match.group(2))
    return found


@dataclass(frozen=True)
class Query:
    kind: str  # "panel" or "alert"
    name: str  # panel title / alert name
    ref: str  # refId / "expr"
    expr: str  # as written in the file
    promql: str  # what is sent to Prometheus


def panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries(dashboard: Mapping[str, Any], variables: Mapping[str, str]) -> list[Query]:
    return [Query("panel", p.get("title", f"panel {p.get('id')}"), t.get("refId", "?"), t["expr"],
                  substitute(t["expr"], variables))
            for p in panels(dashboard) for t in p.get("targets", []) if t.get("expr")]


# ---------------------------------------------------------------------------------- alert rules
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def split_top_level_comparison(expr: str) -> tuple[str, str, str] | None:
    """(left, operator, right) of the last comparison outside (), {}, [] and strings, or None.

    PromQL comparisons bind less tightly than arithmetic, so the top-level one separates an alert's
    value from its threshold. `bool` after the operator stays with the operator."""
    depth, i, last = 0, 0, None
    quote: str | None = None
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == "#":  # a comment runs to the end of the line
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline
            continue
        elif depth == 0:
            op = next((o for o in _COMPARISONS if expr.startswith(o, i)), None)
            if op is not None:
                last = (i, op)
                i += len(op)
                continue
        i += 1
    if last is None:
        return None
    at, op = last
    right = expr[at + len(op):].strip()
    if right.startswith("bool "):
        op, right = f"{op} bool", right[5:].strip()
    return expr[:at].strip(), op, right


def strip_comparison(expr: str) -> str:
    """An alert's value: `A > threshold` -> `A`. An expression without a top-level comparison is its
    own value. The check calls an alert "with data" when this returns series (the comparison then only
    decides whether it fires)."""
    split = split_top_level_comparison(expr)
    return " ".join(expr.split()) if split is None else " ".join(split[0].split())


def alert_queries(rules: Mapping[str, Any]) -> list[Query]:
    return [Query("alert", r["alert"], "lhs", str(r["expr"]).strip(), strip_comparison(str(r["expr"])))
            for g in rules["groups"] for r in g["rules"] if "alert" in r]
