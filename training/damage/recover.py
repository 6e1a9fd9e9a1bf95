"""Recover a trainable DamageNet from the committed ONNX file (no checkpoint needed).

    python -m training.damage.recover --onnx models/damage_detector/1/model.onnx --out training/runs/recovered.pt

Training checkpoints are not committed (`training/runs/` is ignored), so a fresh clone cannot warm-start from
the committed detector. The ONNX export folded every BatchNorm into the convolution before it (eval mode), so
the weights are mapped back in forward order: each torch convolution takes the weight of the ONNX Conv node it
became, and its BatchNorm becomes the identity with the folded bias as its shift (running mean 0, running
variance 1 - eps, scale 1). The result computes exactly what the ONNX file computes; the check below compares
both on a photo-sized input. Keep BatchNorm in eval mode when fine-tuning such a model (its statistics are
folded away).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.damage.model import DamageNet, ExportWrapper


def _conv_order(wrapper: ExportWrapper, size: int) -> list[tuple[str, nn.Conv2d]]:
    """The DamageNet convolutions in the order the export runs them (first call only)."""
    names = {m: n for n, m in wrapper.net.named_modules()}
    order: list[tuple[str, nn.Conv2d]] = []
    seen: set[int] = set()
    hooks = []

    def hook(module: nn.Module, _inp: object, _out: object) -> None:
        if id(module) not in seen:
            seen.add(id(module))
            order.append((names[module], module))  # type: ignore[arg-type]

    for module in wrapper.net.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        wrapper(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return order


def _batchnorm_after(net: nn.Module, conv_name: str) -> nn.BatchNorm2d | None:
    """The BatchNorm that follows a convolution in DamageNet (EfficientNet blocks, stem, conv_bn), if any."""
    modules = dict(net.named_modules())
    parent, _, leaf = conv_name.rpartition(".")
    candidates = {
        "_conv_stem": "_bn0", "_expand_conv": "_bn0", "_depthwise_conv": "_bn1", "_project_conv": "_bn2",
        "_conv_head": "_bn1",
    }
    if leaf in candidates:
        bn = modules.get(f"{parent}.{candidates[leaf]}" if parent else candidates[leaf])
        return bn if isinstance(bn, nn.BatchNorm2d) else None
    if leaf.isdigit():  # nn.Sequential(conv, bn, relu)
        bn = modules.get(f"{parent}.{int(leaf) + 1}")
        return bn if isinstance(bn, nn.BatchNorm2d) else None
    return None


def recover(onnx_path: Path, n_types: int = 3, n_severity: int = 3, n_parts: int = 7,
            size: int = 640) -> DamageNet:
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    for node in proto.graph.node:  # weights the exporter left as Constant nodes
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    inits[node.output[0]] = numpy_helper.to_array(attr.t)
    alias = {n.output[0]: n.input[0] for n in proto.graph.node if n.op_type == "Identity"}

    def resolve(name: str) -> str:  # the second pass reuses the first pass's weights through Identity nodes
        while name in alias:
            name = alias[name]
        return name

    weights: list[tuple[np.ndarray, np.ndarray | None]] = []
    used: set[str] = set()
    for node in proto.graph.node:
        if node.op_type != "Conv" or resolve(node.input[1]) in used:
            continue
        used.add(resolve(node.input[1]))
        bias = inits[resolve(node.input[2])] if len(node.input) > 2 and node.input[2] else None
        weights.append((inits[resolve(node.input[1])], bias))

    net = DamageNet(n_types, n_severity, n_parts, pretrained=False).eval()
    order = _conv_order(ExportWrapper(net).eval(), size)
    if len(order) != len(weights):
        raise RuntimeError(f"{len(order)} torch convolutions but {len(weights)} ONNX Conv weights")
    with torch.no_grad():
        for (name, conv), (w, b) in zip(order, weights, strict=True):
            if tuple(conv.weight.shape) != w.shape:
                raise RuntimeError(f"{name}: torch {tuple(conv.weight.shape)} vs ONNX {w.shape}")
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bn = _batchnorm_after(net, name)
            bias = torch.zeros(w.shape[0]) if b is None else torch.from_numpy(np.array(b))
            if bn is not None:  # folded: the BatchNorm becomes "+ bias"
                if conv.bias is not None:
                    conv.bias.zero_()
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
            elif conv.bias is not None:
                conv.bias.copy_(bias)
            elif b is not None and np.abs(b).max() > 0:
                raise RuntimeError(f"{name}: ONNX has a bias but torch has neither bias nor BatchNorm")
    return net


def check(net: DamageNet, onnx_path: Path, size: int = 640, seed: int = 0) -> float:
    """Max |difference| of every output between the recovered net and the ONNX file on one random input."""
    import onnxruntime as ort

    x = np.random.default_rng(seed).uniform(0, 255, (1, 3, size, size)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        got = ExportWrapper(net.eval())(torch.from_numpy(x))
    return max(float(np.abs(e - g.numpy()).max()) for e, g in zip(expected, got, strict=True))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", type=Path, default=Path("models/damage_detector/1/model.onnx"))
    p.add_argument("--out", type=Path, default=Path("training/runs/recovered.pt"))
    args = p.parse_args(argv)
    net = recover(args.onnx)
    diff = check(net, args.onnx)
    print(f"recovered {args.onnx}: max |torch - onnx| over all outputs {diff:.2e}")
    if diff > 1e-2:
        raise SystemExit("recovered network does not match the ONNX file")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "recovered_from": str(args.onnx)}, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
