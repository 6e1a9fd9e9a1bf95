"""OCR character confusions (0/O/D/Q, 1/I/L, 5/S, 8/B, 2/Z) and single-substitution candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterator

# Each group holds characters the recogniser mixes up; the digit comes first.
CONFUSION_GROUPS: tuple[str, ...] = ("0ODQ", "1IL", "5S", "8B", "2Z")

TO_DIGIT: dict[str, str] = {ch: group[0] for group in CONFUSION_GROUPS for ch in group[1:]}
ALTERNATIVES: dict[str, str] = {ch: group.replace(ch, "") for group in CONFUSION_GROUPS for ch in group}


def single_substitutions(value: str, allowed: Callable[[int, str], bool]) -> Iterator[str]:
    """Every string that differs from `value` by one confusable character, kept where `allowed`."""
    for i, ch in enumerate(value):
        for alt in ALTERNATIVES.get(ch, ""):
            if allowed(i, alt):
                yield value[:i] + alt + value[i + 1:]


def unique_valid(candidates: Iterator[str], is_valid: Callable[[str], bool]) -> str | None:
    """The only valid candidate, or None when none or several validate (no sound correction)."""
    found = {c for c in candidates if is_valid(c)}
    return found.pop() if len(found) == 1 else None
