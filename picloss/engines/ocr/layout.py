"""Group OCR lines into rows of text, robust to the document's rotation in the photo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picloss.engines.ocr.engine import OcrLine


@dataclass(frozen=True)
class Row:
    lines: tuple[OcrLine, ...]  # left to right

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


def _angle(box: np.ndarray) -> float:
    dx, dy = box[1] - box[0]
    return float(np.arctan2(dy, dx))


def group_rows(lines: list[OcrLine]) -> list[Row]:
    """Rows top to bottom: centres are rotated by the median text angle, then clustered by height."""
    if not lines:
        return []
    weights = np.array([np.linalg.norm(line.box[1] - line.box[0]) for line in lines])
    angles = np.array([_angle(line.box) for line in lines])
    angle = float(angles[np.argsort(-weights)][: max(1, len(lines) // 2)].mean())
    rot = np.array([[np.cos(-angle), -np.sin(-angle)], [np.sin(-angle), np.cos(-angle)]])
    centres = np.array([line.box.mean(axis=0) for line in lines]) @ rot.T
    heights = np.array([np.linalg.norm(line.box[3] - line.box[0]) for line in lines])
    tolerance = 0.5 * float(np.median(heights))
    order = np.argsort(centres[:, 1])
    rows: list[list[int]] = []
    for i in order:
        if rows and abs(centres[i, 1] - np.mean([centres[j, 1] for j in rows[-1]])) <= tolerance:
            rows[-1].append(int(i))
        else:
            rows.append([int(i)])
    return [Row(tuple(lines[j] for j in sorted(r, key=lambda j: centres[j, 0]))) for r in rows]
