"""Opening a picture within bounds (callguard.ocr.image): hostile pictures are refused
before their pixels are decoded, good ones come out upright, flat and scaled.

Needs Pillow and numpy only (no OCR engine)."""

from __future__ import annotations

import io
import pickle
import time

import pytest

PIL = pytest.importorskip("PIL", reason="picture decoding needs Pillow (the ocr extra)")
pytest.importorskip("numpy", reason="picture decoding needs numpy (the ocr extra)")

from PIL import Image  # noqa: E402

from callguard.ocr.image import MAX_BYTES, MAX_PIXELS, ImageRejected, load, scaled_size  # noqa: E402


def encode(image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def rejected(data: bytes) -> str:
    with pytest.raises(ImageRejected) as info:
        load(data)
    return info.value.reason


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = encode(Image.new("1", (30_000, 30_000)))  # 900 megapixels in a few hundred kilobytes
    assert len(bomb) < 1_000_000
    started = time.perf_counter()
    assert rejected(bomb) == "too_big"
    assert time.perf_counter() - started < 1.0  # refused from the header, not after decoding


def test_too_many_bytes_and_too_many_pixels_are_refused():
    assert rejected(b"\x89PNG" + b"\0" * MAX_BYTES) == "too_big"
    side = int(MAX_PIXELS ** 0.5) + 10
    assert rejected(encode(Image.new("L", (side, side)))) == "too_big"


def test_a_scrolling_screenshot_of_a_whole_day_is_refused_not_read_in_part():
    assert rejected(encode(Image.new("L", (1080, 30_000)))) == "too_long"
    assert load(encode(Image.new("L", (1080, 6_000)))).shape == (4000, 720, 3)  # a few screens: fine


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7 not a picture", b"GIF89a" + b"\0" * 3])
def test_what_is_not_a_picture_is_refused(data):
    assert rejected(data) in ("not_an_image", "unreadable")


def test_only_the_decoders_for_screenshots_and_photos_are_used():
    for fmt in ("TIFF", "ICO", "PPM"):
        assert rejected(encode(Image.new("RGB", (64, 64)), fmt)) == "not_an_image", fmt
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
        assert load(encode(Image.new("RGB", (64, 64)), fmt)).shape == (64, 64, 3), fmt


def test_a_truncated_picture_is_unreadable():
    whole = encode(Image.effect_noise((400, 400), 60).convert("RGB"), "JPEG", quality=90)
    assert rejected(whole[: len(whole) // 2]) == "unreadable"


def test_pictures_come_out_upright_flat_bgr_and_scaled():
    portrait = Image.new("RGB", (1080, 1920), (255, 0, 0))
    assert load(encode(portrait)).shape == (1280, 720, 3)
    assert tuple(load(encode(portrait))[0, 0]) == (0, 0, 255)  # BGR, as OpenCV and the engine expect
    assert load(encode(Image.new("RGB", (3200, 1000)))).shape == (500, 1600, 3)  # landscape: long side 1600
    assert load(encode(Image.new("RGB", (500, 800)))).shape == (800, 500, 3)  # never scaled up
    transparent = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert tuple(load(encode(transparent))[0, 0]) == (255, 255, 255)  # on white, not black
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": a phone photo taken upright, stored sideways
    sideways = encode(Image.new("RGB", (300, 200)), "JPEG", exif=exif.tobytes())
    assert load(sideways).shape == (300, 200, 3)


def test_scaled_size():
    assert scaled_size(1080, 2400) == (720, 1600)
    assert scaled_size(576, 1280) == (576, 1280)
    assert scaled_size(1920, 1080) == (1600, 900)


def test_the_reason_survives_the_trip_from_the_worker_process():
    error = pickle.loads(pickle.dumps(ImageRejected("too_long", "1080x30000 pixels")))
    assert (error.reason, error.detail, str(error)) == ("too_long", "1080x30000 pixels", "too_long: 1080x30000 pixels")
