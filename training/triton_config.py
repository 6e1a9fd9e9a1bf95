"""The Triton configuration (`models/<name>/config.pbtxt`) of an exported ONNX model, written in one place.

Every training or conversion script that writes a model into the repository calls `config_pbtxt` with the
model's contract (`picloss.engines.models.<name>`: its name and tensor names), its batch size and tensor dims. The
committed files are what it returns (tests/unit/training/test_triton_config.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from picloss.platform.inference.runner import ModelSpec

QUEUE_DELAY_US = 2000


def config_pbtxt(spec: ModelSpec, max_batch_size: int, dims: Mapping[str, Sequence[int]], comment: str,
                 expanded: bool = False) -> str:
    """onnxruntime on CPU, dynamic batching, one instance. `dims`: every input and output of `spec` (FP32, without
    the batch axis), written in the spec's order; `comment`: the first line (who wrote it, whence the names);
    `expanded`: one field a line (the photo classifier's file) instead of one tensor a line."""
    tensors = (*spec.inputs, *spec.outputs)
    if set(dims) != set(tensors):
        raise ValueError(f"{spec.name}: dims given for {sorted(dims)}, the contract names {sorted(tensors)}")

    def tensor(name: str) -> str:
        shape = f"[ {', '.join(str(d) for d in dims[name])} ]"
        if expanded:
            return f'  {{\n    name: "{name}"\n    data_type: TYPE_FP32\n    dims: {shape}\n  }}'
        return f'  {{ name: "{name}" data_type: TYPE_FP32 dims: {shape} }}'

    instance = "  {\n    count: 1\n    kind: KIND_CPU\n  }" if expanded else "  { count: 1 kind: KIND_CPU }"
    inputs, outputs = (",\n".join(tensor(n) for n in names) for names in (spec.inputs, spec.outputs))
    return (f"# {comment}\n"
            f'name: "{spec.name}"\n'
            'platform: "onnxruntime_onnx"\n'
            f"max_batch_size: {max_batch_size}\n"
            f"input [\n{inputs}\n]\n"
            f"output [\n{outputs}\n]\n"
            f"dynamic_batching {{\n  max_queue_delay_microseconds: {QUEUE_DELAY_US}\n}}\n"
            f"instance_group [\n{instance}\n]\n")
