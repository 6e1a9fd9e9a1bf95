import io

import pytest
from PIL import Image

from picloss.platform.imaging import ImageRejected, decode_image, validate_image


def jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (200, 40, 40))
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", [None, 1, 3, 6, 8])
def test_validate_gives_the_displayed_size_like_a_full_decode(orientation: int | None) -> None:
    data = jpeg((400, 300), orientation)
    decoded = decode_image(data)
    assert validate_image(data) == (decoded.width, decoded.height)


def test_truncated_jpeg_is_not_decodable() -> None:
    data = jpeg((800, 600))
    with pytest.raises(ImageRejected) as err:
        validate_image(data[: len(data) // 2])
    assert err.value.code == 1003


def test_too_many_pixels_is_too_large() -> None:
    with pytest.raises(ImageRejected) as err:
        validate_image(jpeg((400, 300)), max_pixels=100_000)
    assert err.value.code == 1004


def test_png_is_validated_in_full() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (50, 40)).save(buf, format="PNG")
    assert validate_image(buf.getvalue()) == (50, 40)
    with pytest.raises(ImageRejected):
        validate_image(buf.getvalue()[:-30])


def gradient_jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    """A photo whose left half is dark and right half bright, so a reduced decode can be compared with a full one."""
    import numpy as np

    w, h = size
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[:, w // 2:] = 230
    pixels[:, : w // 2] = 20
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(("size", "short", "long", "expected"), [
    ((4000, 3000), 224, 0, 8),  # 500 x 375
    ((4000, 3000), 320, 640, 4),  # 1000 x 750: 1/8 would leave 500 < 640 on the long side
    ((640, 640), 224, 0, 2),  # 320 x 320
    ((640, 480), 320, 640, 1),  # already the size the damage models need
    ((300, 200), 224, 0, 1),
])
def test_reduction_keeps_the_size_the_models_need(size: tuple[int, int], short: int, long: int,
                                                  expected: int) -> None:
    from picloss.platform.imaging import reduction

    assert reduction(*size, min_short_side=short, min_long_side=long) == expected
    if expected > 1:  # a reduction never goes below what the models need (a small photo is not reduced at all)
        assert min(size) // expected >= short and max(size) // expected >= long


def test_a_reduced_decode_is_smaller_and_maps_back_to_the_photo() -> None:
    data = gradient_jpeg((4000, 3000))
    full = decode_image(data)
    small = decode_image(data, min_short_side=224)
    assert full.rgb.shape == (3000, 4000, 3) and (full.scale_x, full.scale_y) == (1.0, 1.0)
    assert small.rgb.shape == (375, 500, 3)
    assert (small.width * small.scale_x, small.height * small.scale_y) == (4000, 3000)
    # the same picture: the bright half starts at the same place once mapped back
    col = int(small.rgb[:, :, 0].mean(axis=0).argmax())
    assert abs(col * small.scale_x - 2000) <= 2 * small.scale_x
    assert abs(float(small.rgb.mean()) - float(full.rgb.mean())) < 2.0


@pytest.mark.parametrize("orientation", [None, 1, 3, 6, 8])
def test_a_reduced_decode_is_upright_and_scaled_to_the_displayed_size(orientation: int | None) -> None:
    data = gradient_jpeg((1001, 751), orientation)
    full = decode_image(data)
    small = decode_image(data, min_short_side=224)
    assert small.rgb.shape[0] < full.rgb.shape[0]
    assert (small.rgb.shape[0] > small.rgb.shape[1]) == (full.rgb.shape[0] > full.rgb.shape[1])
    assert round(small.width * small.scale_x) == full.width and round(small.height * small.scale_y) == full.height
    assert validate_image(data) == (full.width, full.height)


def test_formats_without_scaled_decoding_are_decoded_in_full() -> None:
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.full((900, 1200, 3), 90, np.uint8)).save(buf, format="PNG")
    decoded = decode_image(buf.getvalue(), min_short_side=224)
    assert decoded.rgb.shape == (900, 1200, 3) and decoded.scale_x == 1.0


def test_a_reduced_decode_still_rejects_what_a_full_one_rejects() -> None:
    data = gradient_jpeg((4000, 3000))
    with pytest.raises(ImageRejected) as err:
        decode_image(data, max_pixels=10_000_000, min_short_side=224)
    assert err.value.code == 1004
    with pytest.raises(ImageRejected) as err:
        decode_image(b"not a photo", min_short_side=224)
    assert err.value.code == 1003
