"""The same inputs give the same outputs in-process (onnxruntime) and on a real tritonserver.

Uses the committed `models/` when at least one model has a config.pbtxt and a
model.onnx; otherwise a tiny ONNX model generated here, with a production-style
config (onnxruntime platform, KIND_GPU) that the local launcher must derive.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from devkit.triton_local import (
    LocalTritonConfig,
    TritonDist,
    _load_config,
    derive_python_backend_config,
    free_port,
    local_triton,
)
from picloss.platform.inference import ModelSpec, OnnxRunner, TritonRunner, make_runner
from picloss.platform.inference.runner import DEFAULT_MODELS_DIR
from picloss.platform.inference.versions import serving_version

pytestmark = pytest.mark.integration

TINY_CONFIG = """
name: "tiny_classifier"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "images" data_type: TYPE_FP32 dims: [ 3, 8, 8 ] } ]
output [
  { name: "logits" data_type: TYPE_FP32 dims: [ 5 ] },
  { name: "probs" data_type: TYPE_FP32 dims: [ 5 ] }
]
dynamic_batching { max_queue_delay_microseconds: 2000 }
instance_group [ { kind: KIND_GPU count: 1 } ]
"""

NUMPY_DTYPES = {"TYPE_FP32": np.float32, "TYPE_FP16": np.float16, "TYPE_FP64": np.float64,
                "TYPE_INT64": np.int64, "TYPE_INT32": np.int32, "TYPE_UINT8": np.uint8, "TYPE_BOOL": np.bool_}


def write_tiny_model(models_dir: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(192, 5)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=(5,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["images"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probs"], axis=1)],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 5])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    version_dir = models_dir / "tiny_classifier" / "1"
    version_dir.mkdir(parents=True)
    onnx.save(model, version_dir / "model.onnx")
    (models_dir / "tiny_classifier" / "config.pbtxt").write_text(TINY_CONFIG)


def model_dirs(models_dir: Path) -> list[Path]:
    return sorted(p.parent for p in models_dir.glob("*/config.pbtxt")
                  if any(p.parent.glob("[0-9]*/model.onnx")))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if model_dirs(DEFAULT_MODELS_DIR):
        return DEFAULT_MODELS_DIR
    path = tmp_path_factory.mktemp("models")
    write_tiny_model(path)
    return path


@pytest.fixture(scope="module")
def triton(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTritonConfig]:
    try:
        TritonDist.find()
    except RuntimeError as exc:
        pytest.skip(f"bundled tritonserver unavailable: {exc}")
    cfg = LocalTritonConfig(models_dir, tmp_path_factory.mktemp("triton-run"),
                            grpc_port=free_port(), http_port=free_port(), metrics_port=free_port())
    with local_triton(cfg, ready_timeout_s=180):
        yield cfg


def spec_and_inputs(model_dir: Path, batch: int, seed: int) -> tuple[ModelSpec, dict[str, np.ndarray]]:
    config = _load_config(model_dir / "config.pbtxt")
    if not len(config.input):  # inputs not spelled out: take them from the derived config
        version = sorted(p.parent for p in model_dir.glob("[0-9]*/model.onnx"))[-1]
        config = derive_python_backend_config(model_dir / "config.pbtxt", version / "model.onnx")
    from tritonclient.grpc import model_config_pb2

    rng = np.random.default_rng(seed)
    inputs = {}
    for tensor in config.input:
        dtype = NUMPY_DTYPES[model_config_pb2.DataType.Name(tensor.data_type)]
        dims = [d if d > 0 else 64 for d in tensor.dims]
        shape = ([batch] if config.max_batch_size > 0 else []) + dims
        if np.issubdtype(dtype, np.floating):
            inputs[tensor.name] = rng.random(shape).astype(dtype)
        else:
            inputs[tensor.name] = rng.integers(0, 2, size=shape).astype(dtype)
    spec = ModelSpec(config.name or model_dir.name, tuple(inputs), tuple(t.name for t in config.output))
    return spec, inputs


async def test_onnxruntime_and_triton_give_the_same_outputs(models_dir: Path,
                                                            triton: LocalTritonConfig) -> None:
    dirs = model_dirs(models_dir)
    assert dirs, "no model to compare"
    for model_dir in dirs:
        for batch, seed in ((1, 1), (2, 2)):
            spec, inputs = spec_and_inputs(model_dir, batch, seed)
            local = OnnxRunner(spec, models_dir, threads=1)
            remote = TritonRunner(spec, f"127.0.0.1:{triton.grpc_port}")
            try:
                await remote.wait_ready(30)
                expected = await local.infer(inputs)
                actual = await remote.infer(inputs)
            finally:
                await remote.close()
            assert set(actual) == set(spec.outputs)
            for name in spec.outputs:
                assert actual[name].shape == expected[name].shape, (spec.name, name)
                assert actual[name].dtype == expected[name].dtype, (spec.name, name)
                np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                           err_msg=f"{spec.name}.{name} batch={batch}")


def test_triton_exports_the_metrics_the_dashboard_reads(triton: LocalTritonConfig) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{triton.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for name in ("nv_inference_request_success", "nv_inference_queue_duration_us",
                 "nv_inference_compute_infer_duration_us", "nv_inference_exec_count"):
        assert f"\n{name}{{" in text or text.startswith(f"{name}{{"), f"{name} missing from Triton /metrics"


def test_derived_config_is_a_cpu_python_backend_with_the_same_contract(models_dir: Path) -> None:
    for model_dir in model_dirs(models_dir):
        source = _load_config(model_dir / "config.pbtxt")
        version = sorted(p.parent for p in model_dir.glob("[0-9]*/model.onnx"))[-1]
        derived = derive_python_backend_config(model_dir / "config.pbtxt", version / "model.onnx")
        assert derived.backend == "python" and not derived.platform
        assert derived.max_batch_size == source.max_batch_size
        assert derived.HasField("dynamic_batching") == source.HasField("dynamic_batching")
        assert all(g.kind == g.KIND_CPU for g in derived.instance_group)
        if len(source.input):
            assert [t.name for t in derived.input] == [t.name for t in source.input]
            assert [t.name for t in derived.output] == [t.name for t in source.output]


async def test_a_runner_without_a_version_serves_the_one_triton_loaded(models_dir: Path,
                                                                      triton: LocalTritonConfig) -> None:
    """make_runner on Triton without PICLOSS_MODEL_VERSIONS asks Triton which version its policy serves (issue 24:
    the callback and /metrics name it)."""
    model_dir = model_dirs(models_dir)[0]
    spec, inputs = spec_and_inputs(model_dir, 1, 3)
    remote = make_runner(spec, triton_url=f"127.0.0.1:{triton.grpc_port}", models_dir=models_dir, threads=1)
    assert remote.spec.version == ""
    try:
        await remote.wait_ready(30)
        assert remote.spec.version == serving_version(models_dir, spec.name)
        assert set(await remote.infer(inputs)) == set(spec.outputs)
    finally:
        await remote.close()
