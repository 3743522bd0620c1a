"""Product pictures: checked on upload, served publicly (unlike secure images, which never are).

A picture is accepted by what its bytes are, not by its name or the browser's content type: JPEG,
PNG, GIF or WebP, at most ``PRODUCT_IMAGE_MAX_BYTES``. It is served at ``/media/products/<name>``
by :func:`product_image` for pictures a product points at, and nothing else under the media root.
"""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest

SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff(head: bytes) -> str | None:
    """The picture type of a file's first bytes, or None."""
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def validate_product_image(file) -> None:
    limit = settings.PRODUCT_IMAGE_MAX_BYTES
    if file.size is not None and file.size > limit:
        raise ValidationError(f"이미지가 너무 큽니다 (at most {limit // 1024} KB)")
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(16)
    file.seek(position)
    if sniff(head) is None:
        raise ValidationError("JPEG, PNG, GIF, WebP 이미지만 올릴 수 있습니다 (not a JPEG, PNG, GIF or WebP picture)")


def product_image(request: HttpRequest, name: str) -> FileResponse:
    from .models import Product

    path = f"products/{name}"
    if not Product.objects.filter(image=path).exists():
        raise Http404("no such product picture")
    try:
        handle = default_storage.open(path, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("no such product picture") from None
    response = FileResponse(handle, content_type=mimetypes.guess_type(path)[0] or "application/octet-stream")
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
