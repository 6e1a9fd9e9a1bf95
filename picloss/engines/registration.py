"""Where one photo of a claim shows part of another: ORB features + a RANSAC homography (OpenCV).

Claims usually hold a wide view of the car and close-ups of the damage. The damage service
extracts features from each photo (it has the pixels); the aggregator registers the photos of
a claim pairwise and maps a close-up's damages into the wider photo that contains it, so the
same damage seen in both is merged under the component the wider photo (which sees the car's
context) gives it. Pure functions over numpy arrays; features travel as `PhotoFeatures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_SIDE = 640  # features are found on the photo scaled to this long side...
MAX_UPSCALE = 2.5  # ...or up by at most this (small photos: ORB ignores a 31 px border)
N_FEATURES = 1000
N_LEVELS = 12  # pyramid 1.2^11 ≈ 7x: close-ups are often several times closer than the wide view
RATIO = 0.75  # Lowe's ratio test
RANSAC_PX = 6.0  # reprojection tolerance, in the wider photo's pixels at MAX_SIDE scale
MIN_INLIERS = 20
MIN_INLIER_SHARE = 0.25
MAX_FRAME_SHARE = 0.8  # a close-up covers at most this share of the wider photo
MIN_FRAME_SHARE = 0.003
DESCRIPTOR_BYTES = 32

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PhotoFeatures:
    points: np.ndarray  # (N, 2) float32, photo pixels
    descriptors: np.ndarray  # (N, 32) uint8 ORB descriptors
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.points)


def extract(rgb: np.ndarray) -> PhotoFeatures:
    """ORB keypoints and descriptors of an HxWx3 uint8 photo (points in its own pixels)."""
    height, width = rgb.shape[:2]
    scale = min(MAX_UPSCALE, MAX_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=interpolation)
    orb = cv2.ORB_create(nfeatures=N_FEATURES, nlevels=N_LEVELS, fastThreshold=10)  # type: ignore[attr-defined]
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        return PhotoFeatures(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8), width, height)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32) / scale
    return PhotoFeatures(points, descriptors.astype(np.uint8), width, height)


def _frame_share(h: np.ndarray, close: PhotoFeatures, wide: PhotoFeatures) -> float | None:
    """Share of the wide photo's area that the close-up's projected frame covers (None if not convex)."""
    corners = np.array(
        [[0, 0], [close.width, 0], [close.width, close.height], [0, close.height]], dtype=np.float32
    ).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32)):
        return None
    return float(cv2.contourArea(quad.astype(np.float32))) / float(wide.width * wide.height)


@dataclass(frozen=True)
class Registration:
    homography: np.ndarray  # 3x3, close-up pixels -> wider photo pixels
    frame_share: float  # share of the wider photo's area the close-up shows
    inliers: int


def register(close: PhotoFeatures, wide: PhotoFeatures) -> Registration | None:
    """How `close` maps into `wide` when it shows a part of it (enough RANSAC inliers, a convex
    projected frame covering MIN_FRAME_SHARE to MAX_FRAME_SHARE of `wide`); otherwise None."""
    if len(close) < MIN_INLIERS or len(wide) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(close.descriptors, wide.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = close.points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = wide.points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    tolerance = RANSAC_PX * max(wide.width, wide.height) / MAX_SIDE
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, tolerance)
    if h is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(good):
        return None
    share = _frame_share(h, close, wide)
    if share is None or not MIN_FRAME_SHARE <= share <= MAX_FRAME_SHARE:
        return None
    return Registration(np.asarray(h, dtype=np.float64), share, inliers)


def project_box(h: np.ndarray, box: Box) -> tuple[float, float, float, float]:
    """The axis-aligned box around a box's four corners mapped by homography h."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    return float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max())


def scaled(features: PhotoFeatures, width: int, height: int) -> PhotoFeatures:
    """The features of a reduced decode in the pixels of the displayed photo, `width` x `height`."""
    if (width, height) == (features.width, features.height):
        return features
    factor = np.array([width / features.width, height / features.height], dtype=np.float32)
    return PhotoFeatures((features.points * factor).astype(np.float32), features.descriptors, width, height)


def to_wire(features: PhotoFeatures) -> tuple[list[float], bytes]:
    """(flat x, y list, descriptor bytes) for the protobuf message."""
    return features.points.reshape(-1).astype(float).tolist(), features.descriptors.tobytes()


def from_wire(points: list[float] | np.ndarray, descriptors: bytes, width: int, height: int) -> PhotoFeatures:
    """The inverse of to_wire; malformed input gives an empty feature set (no registration)."""
    pts = np.asarray(points, dtype=np.float32)
    desc = np.frombuffer(descriptors, dtype=np.uint8)
    n = len(pts) // 2
    if len(pts) % 2 or len(desc) != n * DESCRIPTOR_BYTES or width <= 0 or height <= 0:
        return PhotoFeatures(
            np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8), max(width, 1), max(height, 1)
        )
    return PhotoFeatures(pts.reshape(n, 2), desc.reshape(n, DESCRIPTOR_BYTES).copy(), width, height)
