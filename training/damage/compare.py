"""The model in service against a candidate, on the insurer's held-out claims (issue 24, item 4).

    python -m training.damage.compare --candidate training/runs/retrain/candidate --data labels/
        [--bootstrap 1000] [--models-dir models]

Both run through the whole damage path of the service (training/damage/insurer.py: gate, car gate, verifier,
sides, operating point), on the claims `make retrain` kept out of training (the split is by claim and depends only
on the claim id). Every figure gets a 95 % bootstrap interval (claims resampled with replacement, the same
resamples for both models), and the difference a verdict: **better** or **worse** when its interval excludes
zero, **within noise** otherwise. The table is printed and written beside the candidate (`compare.md`,
`compare.json`); `make promote-model` reads the verdicts.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from picloss.engines.models.damage_detector import DAMAGE_DETECTOR
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR
from picloss.platform.inference.versions import serving_version
from training.damage import insurer

BETTER, WORSE, NOISE = "better", "worse", "within noise"
CARD_SECTION = "## Figures: the candidate against the model in service (make compare-models)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--candidate", type=Path, required=True, help="folder with model.onnx (make retrain's candidate)")
    p.add_argument("--data", type=Path, required=True, help="the labels folder the candidate was retrained from")
    p.add_argument("--photos", type=Path, default=None)
    p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--held-out-share", type=float, default=insurer.HELD_OUT_SHARE)
    return p.parse_args(argv)


def interval(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return float("nan"), float("nan")
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def compare(serving: insurer.Evaluation, candidate: insurer.Evaluation, reps: int = 1000,
            seed: int = 0) -> dict[str, dict[str, object]]:
    """Per figure: both values with intervals, the difference (candidate - serving) with its interval, verdict."""
    claims = sorted(serving.claims)
    if sorted(candidate.claims) != claims:
        raise ValueError("the two evaluations cover different claims")
    rng = np.random.default_rng(seed)
    draws = [[claims[i] for i in rng.integers(0, len(claims), len(claims))] for _ in range(reps)]
    totals = [(serving.total(keys), candidate.total(keys)) for keys in draws]  # once per resample, every figure
    out: dict[str, dict[str, object]] = {}
    for name, (_, _, higher_better) in insurer.FIGURES.items():
        a = insurer.figure(serving.total(), name)
        b = insurer.figure(candidate.total(), name)
        sa, sb, sd = [], [], []
        for ta, tb in totals:
            va, vb = insurer.figure(ta, name), insurer.figure(tb, name)
            sa.append(va)
            sb.append(vb)
            sd.append(vb - va)
        lo, hi = interval(sd)
        if math.isnan(lo):
            verdict = "not measured"  # no claim of the split has what this figure counts
        elif lo > 0:
            verdict = BETTER if higher_better else WORSE
        elif hi < 0:
            verdict = WORSE if higher_better else BETTER
        else:
            verdict = NOISE
        out[name] = {"serving": a, "serving_ci": interval(sa), "candidate": b, "candidate_ci": interval(sb),
                     "difference": b - a, "difference_ci": (lo, hi), "verdict": verdict,
                     "higher_is_better": higher_better}
    return out


def fmt(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.3f}"


def table(result: dict[str, dict[str, object]], serving_name: str, n_claims: int, n_photos: int,
          reps: int) -> str:
    lines = [f"Held-out claims: {n_claims} ({n_photos} photos); 95 % intervals from {reps} bootstrap resamples "
             "of the claims.", "",
             f"| figure | in service ({serving_name}) | candidate | difference | verdict |", "|---|---|---|---|---|"]
    for name, r in result.items():
        sl, sh = r["serving_ci"]  # type: ignore[misc]
        cl, ch = r["candidate_ci"]  # type: ignore[misc]
        dl, dh = r["difference_ci"]  # type: ignore[misc]
        arrow = "↑" if r["higher_is_better"] else "↓"
        lines.append(f"| {name} ({arrow} better) | {fmt(r['serving'])} [{fmt(sl)}, {fmt(sh)}] "  # type: ignore[arg-type]
                     f"| {fmt(r['candidate'])} [{fmt(cl)}, {fmt(ch)}] "  # type: ignore[arg-type]
                     f"| {r['difference']:+.3f} [{fmt(dl)}, {fmt(dh)}] | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, dict[str, object]]:
    args = parse_args(argv)
    candidate_onnx = args.candidate / "model.onnx"
    if not candidate_onnx.is_file():
        raise SystemExit(f"{candidate_onnx}: no candidate model (make retrain writes one)")
    photos = insurer.load(args.data, args.photos)
    _, held = insurer.split(photos, args.held_out_share)
    if not held:
        raise SystemExit(f"{args.data}: no claim falls in the held-out split ({len(photos)} photos): label more "
                         "claims before comparing")
    version = serving_version(args.models_dir, DAMAGE_DETECTOR.name)
    serving_onnx = args.models_dir / DAMAGE_DETECTOR.name / version / "model.onnx"
    ev_serving = insurer.evaluate(held, insurer.service_fn(serving_onnx, args.models_dir, args.threads))
    ev_candidate = insurer.evaluate(held, insurer.service_fn(candidate_onnx, args.models_dir, args.threads))
    result = compare(ev_serving, ev_candidate, args.bootstrap, args.seed)
    text = table(result, f"v{version}", len(ev_serving.claims), len(held), args.bootstrap)
    print(text, end="")
    (args.candidate / "compare.md").write_text(text)
    card = args.candidate / "MODEL_CARD.md"
    if card.is_file():  # the card carries the figures that decide a promotion
        head = card.read_text().split(CARD_SECTION)[0].rstrip("\n")
        card.write_text(f"{head}\n\n{CARD_SECTION}\n\n{text}")
    (args.candidate / "compare.json").write_text(json.dumps(
        {"serving_version": version, "held_out_claims": len(ev_serving.claims), "held_out_photos": len(held),
         "bootstrap": args.bootstrap, "figures": result}, indent=1, default=list) + "\n")
    return result


if __name__ == "__main__":
    main()
