"""One model interface, two backends: in-process onnxruntime or NVIDIA Triton.

Services build a runner with `make_runner(spec, triton_url=..., models_dir=..., threads=...)` from their
config, `await runner.wait_ready()` in their warm-up, and call `await runner.infer({input_name: array})`.
Pre- and post-processing never depend on the backend: each model's tensor names (its `ModelSpec`, shared with
`models/<name>/config.pbtxt`) and pre-processing are in `picloss.engines.models.<name>`, the decoding of its outputs
beside the verdict logic that uses it (picloss/engines/damage, picloss/engines/classifier).
"""

from picloss.platform.inference.runner import ModelRunner, ModelSpec, OnnxRunner, TritonRunner, make_runner

__all__ = ["ModelRunner", "ModelSpec", "OnnxRunner", "TritonRunner", "make_runner"]
