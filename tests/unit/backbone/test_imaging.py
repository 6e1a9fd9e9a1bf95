import io

import pytest
from PIL import Image

from picloss.imaging import ImageRejected, decode_image, validate_image


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
