"""Open a picture someone sent, within bounds, ready for the OCR engine.

A picture is hostile input: a few kilobytes of PNG can claim a billion pixels
(a decompression bomb), and a GIF or TIFF decoder is attack surface we do not
need. So, before any pixel is decoded:

* the byte size is checked (``MAX_BYTES``);
* only the decoders for screenshots and photos are allowed (PNG, JPEG, WebP,
  GIF, BMP);
* the pixel count from the header is checked (``MAX_PIXELS``), and Pillow's own
  decompression-bomb limit is set to the same number, its warning made an error;
* a picture far taller than a phone screen (a scrolling screenshot of a whole
  day of chat) is refused rather than read in part, so a verdict never silently
  covers only the top of what the person sent.

Then the picture is turned upright (EXIF), flattened onto white, and scaled
down: phone screenshots are read at 720 pixels wide, where chat text is still
25-35 pixels high but the text detector does a third of the work it would do
at 1080 (see bench/README.md, "Screenshots").
"""

from __future__ import annotations

import io
import warnings

__all__ = ["ImageRejected", "MAX_BYTES", "MAX_PIXELS", "MAX_SCREENS", "load", "scaled_size"]

MAX_BYTES = 10 * 1024 * 1024  # Telegram's photos are < 1 MB; a PNG screenshot document a few MB
MAX_PIXELS = 40_000_000  # e.g. 1440 x 27,000: a very long scrolling screenshot
MAX_SCREENS = 12  # a picture may be at most this many phone screens (16:9) tall, once scaled
PORTRAIT_WIDTH = 720  # phone screenshots are read at this width
LANDSCAPE_SIDE = 1600  # pictures wider than tall (desktop screenshots, photos of a notice)
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class ImageRejected(ValueError):
    """The picture cannot be read; ``reason`` says why, in a word the replies map to
    a message: ``too_big``, ``too_long``, ``not_an_image``, ``unreadable``.

    Raised in the OCR worker and re-raised in the bot, so it must pickle: the
    constructor's arguments are exactly ``args``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def scaled_size(width: int, height: int, sharpness: float = 1.0) -> tuple[int, int]:
    """The size a ``width`` x ``height`` picture is read at (never scaled up).

    Portrait pictures (phone screenshots) are brought to ``PORTRAIT_WIDTH`` wide;
    landscape ones keep their longer side within ``LANDSCAPE_SIDE``, since desktop
    text is small. ``sharpness`` multiplies both (a second, closer look)."""
    if height >= width:
        factor = min(1.0, PORTRAIT_WIDTH * sharpness / width)
    else:
        factor = min(1.0, LANDSCAPE_SIDE * sharpness / width)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _too_long(width: int, height: int) -> bool:
    return height > width * 16 / 9 * MAX_SCREENS


def load(data: bytes, sharpness: float = 1.0):
    """Decode ``data`` into an RGB numpy array (height x width x 3, BGR order as
    OpenCV and the OCR engine expect), at :func:`scaled_size` (with ``sharpness``).

    Raises :class:`ImageRejected` for anything out of bounds or undecodable."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ImageRejected("too_big", f"{len(data)} bytes, at most {MAX_BYTES}")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses 2x this outright; warns (an error here) above it
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            picture = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            if isinstance(exc, UnidentifiedImageError):
                raise ImageRejected("not_an_image", "not a PNG, JPEG, WebP, GIF or BMP picture") from None
            raise ImageRejected("too_big", str(exc)) from None
        except (OSError, ValueError, SyntaxError) as exc:  # corrupt headers surface as any of these
            raise ImageRejected("unreadable", str(exc)) from None
        width, height = picture.size
        if width < 1 or height < 1 or width * height > MAX_PIXELS:
            raise ImageRejected("too_big", f"{width}x{height} pixels, at most {MAX_PIXELS}")
        target = scaled_size(width, height, sharpness)
        if _too_long(*scaled_size(width, height)):
            raise ImageRejected("too_long", f"{width}x{height} pixels, at most {MAX_SCREENS} screens tall")
        try:
            if picture.format == "JPEG":
                picture.draft("RGB", target)  # let libjpeg decode at 1/2, 1/4 or 1/8 scale: faster, less memory
            picture = ImageOps.exif_transpose(picture)
            picture = _flatten(picture)
            if picture.size != scaled_size(*picture.size, sharpness):
                picture = picture.resize(scaled_size(*picture.size, sharpness), Image.Resampling.LANCZOS,
                                         reducing_gap=2.0)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:  # truncated, corrupt
            raise ImageRejected("unreadable", str(exc)) from None
    return np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])


def _flatten(picture):
    """RGB on a white background (transparent screenshots, palette and grey pictures)."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return picture.convert("RGB")
