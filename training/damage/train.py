"""Train DamageNet jointly on the datasets of the class map (partial labels per head).

    python -m training.damage.train --epochs 12 --max-minutes 60 [--resume] [--device cuda]

Fixed seeds, progress bars, a log file and a resumable checkpoint (`last.pt`, saved every
`--save-every` steps and at each epoch end) in --out (default training/runs/damage).
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from picloss.engines.models.damage_detector import INPUT_SIZE, letterbox
from training.damage.datasets import (
    DEFAULT_DATA_ROOT,
    HEADS,
    ClassMap,
    Sample,
    dedupe_identical,
    read_clean_cars,
    read_split,
)
from training.damage.model import DAMAGE, PART, STRIDE, DamageNet, normalise
from training.damage.targets import augment, augment_crop, build_targets, detection_loss

CROP = INPUT_SIZE // 2  # training window; damages are cropped at full resolution, parts seen whole at half
NEGATIVE = 2  # stream of clean-car photos (issue 11): both object channels supervised, all zero

log = logging.getLogger("train-damage")
HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classmap", type=Path, default=HERE / "classmap.yaml")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--out", type=Path, default=Path("training/runs/damage"))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (with a checkpoint) after this; 0 = none")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--limit", type=int, default=0, help="use only N train photos (smoke runs)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", type=Path, default=None, help="warm start from another checkpoint (any head layout)")
    p.add_argument("--negatives", type=int, default=4,
                   help="clean-car photos (clean_cars/*/train, no damage anywhere) added to every batch; 0 = none")
    p.add_argument("--freeze-bn", action="store_true",
                   help="keep BatchNorm in eval mode (needed after training.damage.recover: statistics folded)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in all; 0 = the epochs")
    p.add_argument("--no-base", action="store_true",
                   help="train on the extra photos only (none of the class map's datasets); used by fixtures")
    return p.parse_args(argv)


@dataclass(frozen=True)
class ExtraPhotos:
    """Photos given by the caller (an insurer's labels, issue 24), trained as their own stream of one object
    channel (`per_batch` of each batch; DAMAGE: the damage itself, PART: whole damaged parts); `negatives`:
    confirmed no-damage photos, added to the negative stream."""

    samples: list[Sample]
    per_batch: int
    negatives: list[Sample]
    channel: int = DAMAGE


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_cached(samples: list[Sample], size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Letterbox every photo once to `size` (RAM cache); boxes scaled to those pixels."""
    images, boxes = [], []
    for s in progress(samples, "cache"):
        with Image.open(s.path) as im:
            rgb = np.asarray(im.convert("RGB"))
        img, geo = letterbox(rgb, size)
        images.append(img)
        boxes.append(s.boxes * geo.scale)
    return images, boxes


def progress(items, desc: str):  # type: ignore[no-untyped-def]
    try:
        from tqdm import tqdm

        return tqdm(items, desc=desc, mininterval=10)
    except ImportError:
        return items


@dataclass(eq=False)
class Stream:
    """The train photos of one object channel, letterboxed once, with their batch share."""

    channel: int
    samples: list[Sample]
    images: list[np.ndarray]
    boxes: list[np.ndarray]
    per_batch: int

    def pick(self, epoch: int, b: int, seed: int) -> list[int]:
        """Indices of batch b of an epoch: a seeded permutation per pass, cycling as needed."""
        n, k = len(self.samples), self.per_batch
        return [int(self._order(seed, epoch, j // n)[j % n]) for j in range(b * k, (b + 1) * k)]

    @functools.lru_cache(maxsize=4)  # noqa: B019 - a few small arrays, one Stream per channel
    def _order(self, seed: int, epoch: int, pass_: int) -> np.ndarray:
        return np.random.default_rng([seed, self.channel, epoch, pass_]).permutation(len(self.samples))


def make_batch(streams: list[Stream], epoch: int, b: int, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    grid = CROP // STRIDE
    rng = np.random.default_rng([seed, epoch, b])
    imgs, targets = [], []
    for stream in streams:
        for i in stream.pick(epoch, b, seed):
            if stream.channel == NEGATIVE:  # a clean car: a full-resolution window or the whole photo at half
                if rng.random() < 0.5:  # windows centred near a plate or the vehicle 80 % of the time
                    img, _, _ = augment_crop(stream.images[i], stream.boxes[i], rng, CROP)
                else:
                    half = cv2.resize(stream.images[i], (CROP, CROP), interpolation=cv2.INTER_AREA)
                    img, _, _ = augment(half, stream.boxes[i] / 2, rng)
                empty = {h: np.zeros(0, np.int64) for h in HEADS}
                target = build_targets(np.zeros((0, 4), np.float32), empty, grid, DAMAGE)
                target["heat_mask"][:] = 1  # no damage and no damaged part anywhere on the photo
                imgs.append(img)
                targets.append(target)
                continue
            if stream.channel == DAMAGE:
                img, bx, keep = augment_crop(stream.images[i], stream.boxes[i], rng, CROP)
            else:
                img, bx, keep = augment(stream.images[i], stream.boxes[i], rng)
            labels = {h: stream.samples[i].labels[h][keep] for h in HEADS}
            imgs.append(img)
            targets.append(build_targets(bx[keep], labels, grid, stream.channel))
    x = torch.from_numpy(np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32))
    tgt = {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}
    return x, tgt


def learning_rate(peak: float, progress: float, warmup: float = 0.03) -> float:
    """Linear warm-up then cosine decay to 2% of the peak, over progress 0..1.

    With --max-minutes, progress is the larger of the step fraction and the time fraction of
    the budget, so a run cut by its budget still ends annealed (then not bit-reproducible).
    """
    if progress < warmup:
        return peak * max(progress / warmup, 0.02)
    t = min(1.0, (progress - warmup) / (1 - warmup))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def main(argv: list[str] | None = None, extra: ExtraPhotos | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(args.out / "train.log"), logging.StreamHandler()],
    )
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    classmap = ClassMap.load(args.classmap)
    samples = [] if args.no_base else dedupe_identical(read_split(classmap, "train", args.data_root))
    samples = [s for s in samples if len(s.boxes) > 0]
    if args.limit:  # smoke runs: the first N photos of each dataset
        datasets = dict.fromkeys(s.dataset for s in samples)
        samples = [s for d in datasets for s in [x for x in samples if x.dataset == d][: args.limit]]
    log.info(
        "train photos after dedupe: %d (%s)",
        len(samples),
        {d: sum(s.dataset == d for s in samples) for d in {s.dataset for s in samples}},
    )
    streams = []
    for channel, size, share in ((DAMAGE, INPUT_SIZE, 0.5), (PART, CROP, 0.5)):
        chosen = [s for s in samples if classmap.channel(s.dataset) == channel]
        if chosen:
            images, boxes = load_cached(chosen, size)
            streams.append(Stream(channel, chosen, images, boxes, max(1, round(args.batch_size * share))))

    if extra is not None and extra.samples:
        with_boxes = [s for s in extra.samples if len(s.boxes) > 0]
        images, boxes = load_cached(with_boxes, INPUT_SIZE if extra.channel == DAMAGE else CROP)
        streams.append(Stream(extra.channel, with_boxes, images, boxes, extra.per_batch))
        log.info("extra photos: %d with damage, %d per batch", len(with_boxes), extra.per_batch)
    if args.negatives:
        clean = [] if args.no_base else read_clean_cars("train", args.data_root)
        if args.limit:
            clean = clean[: args.limit]
        negatives = [Sample(c.path, "clean_cars", np.concatenate([c.plates, c.vehicles])) for c in clean]
        negatives += list(extra.negatives) if extra is not None else []
        if negatives:
            images, boxes = load_cached(negatives, INPUT_SIZE)
            streams.append(Stream(NEGATIVE, negatives, images, boxes, args.negatives))
            log.info("negatives (clean cars, confirmed no damage): %d photos, %d per batch", len(negatives),
                     args.negatives)
    if not any(st.channel != NEGATIVE for st in streams):
        raise SystemExit("no train photo with a damage box: nothing to train on")

    heads = classmap.heads
    net = DamageNet(len(heads["damage_type"]), len(heads["severity"]), len(heads["part_kind"])).to(device)
    if args.init is not None and not (args.resume and (args.out / "last.pt").exists()):
        skipped = net.load_warm(torch.load(args.init, map_location=device, weights_only=False)["model"])
        log.info("warm start from %s (skipped: %s)", args.init, skipped or "none")
    steps_per_epoch = max(1, *(len(st.samples) // st.per_batch for st in streams if st.channel != NEGATIVE))
    total_steps = max(1, steps_per_epoch * args.epochs)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    step, epoch = 0, 0
    ckpt_path = args.out / "last.pt"
    if args.resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, epoch = ckpt["step"], ckpt["epoch"]
        log.info("resumed from %s at epoch %d step %d", ckpt_path, epoch, step)

    def save(done_epoch: int) -> None:
        torch.save(
            {
                "model": net.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "epoch": done_epoch,
                "heads": heads,
                "args": vars(args) | {"out": str(args.out)},
            },
            ckpt_path.with_suffix(".tmp"),
        )
        ckpt_path.with_suffix(".tmp").replace(ckpt_path)

    start = time.monotonic()
    deadline = start + args.max_minutes * 60 if args.max_minutes else float("inf")
    first_progress = step / total_steps
    net.train()
    if args.freeze_bn:
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
    while epoch < args.epochs and step < total_steps:
        # A batch depends only on (seed, epoch, step): a resumed run replays the same batches.
        first = step - epoch * steps_per_epoch
        bar = progress(range(first, steps_per_epoch), f"epoch {epoch + 1}/{args.epochs}")
        running: dict[str, float] = {}
        for b in bar:
            x, tgt = make_batch(streams, epoch, b, args.seed)
            out = net(normalise(x.to(device)))
            losses = detection_loss(out, {k: v.to(device) for k, v in tgt.items()})
            loss = sum(losses.values())
            by_time = (time.monotonic() - start) / (deadline - start) if args.max_minutes else 0.0
            progress_now = max(step / total_steps, first_progress + (1 - first_progress) * by_time)
            lr = learning_rate(args.lr, progress_now)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            step += 1
            for k, v in losses.items():
                value = v.item()
                running[k] = 0.9 * running.get(k, value) + 0.1 * value
            if step % 10 == 0:
                log.info(
                    "epoch %d step %d/%d lr %.2e %s",
                    epoch + 1,
                    step,
                    total_steps,
                    lr,
                    " ".join(f"{k}={v:.3f}" for k, v in running.items()),
                )
            if step % args.save_every == 0:
                save(epoch)
            if step >= total_steps:
                break
            if time.monotonic() > deadline:
                save(epoch)
                log.info("max minutes reached at step %d; checkpoint saved (resume with --resume)", step)
                return
        epoch += 1
        save(epoch)
        log.info("epoch %d done in %.1f min total", epoch, (time.monotonic() - start) / 60)
    log.info("training finished: %d steps", step)


if __name__ == "__main__":
    main()
