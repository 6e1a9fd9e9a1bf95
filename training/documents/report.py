"""Metrics and the docs/benchmarks.md section of `make eval-docs`."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from picloss.domain.documents.crosscheck import edit_distance

SECTION = "## Documents (make eval-docs)"


def char_accuracy(truth: str, got: str | None) -> float:
    if not truth:
        return 1.0 if not got else 0.0
    return max(0.0, 1.0 - edit_distance(truth, got or "") / len(truth))


class FieldScores:
    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], list[bool]] = defaultdict(list)
        self.chars: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.flagged_wrong: dict[tuple[str, str], list[bool]] = defaultdict(list)

    def add(self, image_class: str, truth: dict[str, str], got: dict[str, tuple[str, float]]) -> None:
        for name, value in truth.items():
            read = got.get(name)
            key = (image_class, name)
            ok = read is not None and read[0] == value
            self.exact[key].append(ok)
            self.chars[key].append(char_accuracy(value, read[0] if read else None))
            if read is not None and not ok:
                self.flagged_wrong[key].append(read[1] < 0.5)

    def table(self) -> list[str]:
        lines = ["| document | field | n | exact match | char accuracy | wrong reads with confidence < 0.5 |",
                 "|---|---|---|---|---|---|"]
        for key in sorted(self.exact):
            n = len(self.exact[key])
            wrong = self.flagged_wrong[key]
            flagged = f"{sum(wrong)}/{len(wrong)}" if wrong else "-"
            lines.append(f"| {key[0]} | {key[1]} | {n} | {sum(self.exact[key]) / n:.3f} | "
                         f"{sum(self.chars[key]) / n:.3f} | {flagged} |")
        return lines


def confusion_table(classes: tuple[str, ...], pairs: list[tuple[str, str]]) -> list[str]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for truth, pred in pairs:
        counts[(truth, pred)] += 1
    lines = ["| true \\ predicted | " + " | ".join(classes) + " | n | recall |",
             "|---" * (len(classes) + 3) + "|"]
    for t in classes:
        row = [counts[(t, p)] for p in classes]
        n = sum(row)
        recall = f"{counts[(t, t)] / n:.3f}" if n else "-"
        lines.append(f"| {t} | " + " | ".join(map(str, row)) + f" | {n} | {recall} |")
    return lines


def write_section(path: Path, body: list[str]) -> None:
    """Replace (or append) only the Documents section of the shared benchmarks file."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = SECTION + "\n\n" + "\n".join(body).rstrip() + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
