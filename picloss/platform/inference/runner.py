"""Model runners: onnxruntime in-process (the embedded default) and Triton over gRPC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from picloss.platform.inference.versions import serving_version
from picloss.platform.observability.metrics import INFERENCE_LATENCY, MODEL_VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MODELS_DIR = REPO_ROOT / "models"
DEFAULT_ORT_THREADS = 2  # PICLOSS_ORT_THREADS of the services' configs


@dataclass(frozen=True)
class ModelSpec:
    """A model of the Triton repository: `models/<name>/<version>/model.onnx`. `version` "" (Triton only): the
    version Triton's policy serves, asked of Triton when the runner gets ready."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    version: str = "1"

    def onnx_path(self, models_dir: Path | None = None) -> Path:
        return (models_dir or DEFAULT_MODELS_DIR) / self.name / self.version / "model.onnx"


class ModelRunner(Protocol):
    spec: ModelSpec
    backend: str

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    async def wait_ready(self) -> None: ...

    async def close(self) -> None: ...


class OnnxRunner:
    """Runs the ONNX file in this process; calls go to a worker thread."""

    backend = "onnxruntime"

    def __init__(self, spec: ModelSpec, models_dir: Path | None = None, threads: int | None = None,
                 path: Path | None = None) -> None:
        """`path`: a model file outside the repository (a candidate being compared), reported as `spec.version`."""
        import onnxruntime as ort

        self.spec = spec
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads if threads is not None else DEFAULT_ORT_THREADS
        opts.inter_op_num_threads = 1
        path = path or spec.onnx_path(models_dir)
        if not path.exists():
            raise FileNotFoundError(f"model file {path} not found")
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        MODEL_VERSION.labels(spec.name, self.backend).set(_as_number(spec.version))

    def infer_sync(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        out = self._session.run(list(self.spec.outputs), inputs)
        INFERENCE_LATENCY.labels(self.spec.name, self.backend).observe(time.perf_counter() - start)
        return dict(zip(self.spec.outputs, out, strict=True))

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return await asyncio.to_thread(self.infer_sync, inputs)

    async def wait_ready(self) -> None:
        return None  # the session was loaded by the constructor

    async def close(self) -> None:
        return None


class TritonRunner:
    """Runs the model on a Triton server through tritonclient.grpc.aio."""

    backend = "triton"

    def __init__(self, spec: ModelSpec, url: str) -> None:
        import tritonclient.grpc.aio as tgrpc

        self.spec = spec
        self._tgrpc = tgrpc
        self._client = tgrpc.InferenceServerClient(url=url)

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tritonclient.utils import np_to_triton_dtype

        tensors = []
        for name, array in inputs.items():
            tensor = self._tgrpc.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        outputs = [self._tgrpc.InferRequestedOutput(name) for name in self.spec.outputs]
        start = time.perf_counter()
        result = await self._client.infer(self.spec.name, tensors, outputs=outputs,
                                          model_version=self.spec.version)
        INFERENCE_LATENCY.labels(self.spec.name, self.backend).observe(time.perf_counter() - start)
        return {name: result.as_numpy(name) for name in self.spec.outputs}

    async def _resolve_version(self) -> None:
        """Version "": the one Triton's policy loaded (the highest ready one), so that verdicts name it."""
        metadata = await self._client.get_model_metadata(self.spec.name)
        versions = sorted(int(v) for v in metadata.versions if str(v).isdigit())
        if not versions:
            raise RuntimeError(f"Triton serves no numbered version of {self.spec.name}")
        self.spec = replace(self.spec, version=str(versions[-1]))

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if not self.spec.version:
                    await self._resolve_version()
                if await self._client.is_model_ready(self.spec.name, self.spec.version):
                    MODEL_VERSION.labels(self.spec.name, self.backend).set(_as_number(self.spec.version))
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"Triton model {self.spec.name} not ready after {timeout_s}s")
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        await self._client.close()


def _as_number(version: str) -> float:
    return float(version) if version.isdigit() else -1.0


def make_runner(spec: ModelSpec, *, triton_url: str | None, models_dir: Path,
                threads: int, versions: Mapping[str, str] | None = None) -> OnnxRunner | TritonRunner:
    """Triton when a URL is given, in-process onnxruntime otherwise (`threads`: its intra-op threads). The service's
    config passes every setting (TRITON_URL, PICLOSS_MODELS_DIR, PICLOSS_ORT_THREADS, PICLOSS_MODEL_VERSIONS, read
    once there). The version: `versions[spec.name]` where given, else the repository's rule
    (picloss/platform/inference/versions.py); on Triton, else what Triton's policy serves."""
    pinned = (versions or {}).get(spec.name)
    if triton_url:
        return TritonRunner(replace(spec, version=pinned or ""), triton_url)
    return OnnxRunner(replace(spec, version=serving_version(models_dir, spec.name, pinned)), models_dir, threads)
