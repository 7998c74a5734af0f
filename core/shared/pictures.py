"""A picture a student uploads, opened safely once for every lesson that takes one: empty, too big, not a picture,
damaged or a decompression bomb each refused with a sentence; turned upright by its EXIF orientation."""

from __future__ import annotations

import io

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000


def open_picture(content: bytes):
    """The upload as a loaded, upright PIL image. ValueError with a clear reason for anything that is not a usable
    picture."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not content:
        raise ValueError("The file is empty (0 bytes): choose a PNG or JPEG picture.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"The file is {len(content) / 2**20:.1f} MB; pictures up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted."
        )
    try:
        picture = Image.open(io.BytesIO(content))
        width, height = picture.size
        if width * height > MAX_UPLOAD_PIXELS:
            raise ValueError(
                f"The picture is {width:,}×{height:,} pixels, too large to open safely here "
                f"(at most {MAX_UPLOAD_PIXELS / 1e6:.0f} million pixels): shrink it first."
            )
        picture.load()
    except Image.DecompressionBombError:
        raise ValueError(
            f"The picture is too large to open safely here (far more than {MAX_UPLOAD_PIXELS / 1e6:.0f} million "
            "pixels): shrink it first."
        ) from None
    except UnidentifiedImageError:
        raise ValueError("This file is not a picture that can be read (PNG, JPEG, GIF, BMP or WebP).") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"The picture is damaged or cut short and cannot be read ({error}).") from None
    return ImageOps.exif_transpose(picture)
