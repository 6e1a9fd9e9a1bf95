"""One model interface, two backends: in-process onnxruntime or NVIDIA Triton.

Services build a runner with `make_runner(spec, triton_url=...)` and call
`await runner.infer({input_name: array})`. Pre- and post-processing live in the
service, once, and never depend on the backend. Tensor names are constants of
the model's `ModelSpec`, shared with `models/<name>/config.pbtxt`.
"""

from picloss.inference.runner import ModelRunner, ModelSpec, OnnxRunner, TritonRunner, make_runner

__all__ = ["ModelRunner", "ModelSpec", "OnnxRunner", "TritonRunner", "make_runner"]
