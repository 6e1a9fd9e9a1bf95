"""The OCR servicer makes and warms its engines in warm_up (after the server started), one per worker."""

from __future__ import annotations

import asyncio

from services.ocr.servicer import SERVICE, OcrServicer


class Engine:
    made = 0

    def __init__(self) -> None:
        Engine.made += 1
        self.warmed = False

    def warm_up(self) -> None:
        self.warmed = True


def test_warm_up_makes_one_warm_engine_per_worker() -> None:
    Engine.made = 0
    servicer = OcrServicer(make_engine=Engine, workers=3)  # type: ignore[arg-type]
    assert Engine.made == 0  # nothing heavy before the server is up
    asyncio.run(servicer.warm_up())
    engines = [servicer._free.get_nowait() for _ in range(servicer._free.qsize())]
    assert len(engines) == 3 and all(e.warmed for e in engines)  # type: ignore[attr-defined]
    assert SERVICE.full_name == "picloss.ocr.v1.OcrService"


def test_engines_passed_in_are_used_as_they_are() -> None:
    given = Engine()
    servicer = OcrServicer([given])  # type: ignore[list-item]
    asyncio.run(servicer.warm_up())
    assert servicer._free.qsize() == 1 and servicer._free.get_nowait() is given and not given.warmed
