"""Upload fixtures made in memory: real images drawn by Pillow, the first bytes
of real video containers, and files that only pretend to be media."""

from __future__ import annotations

import io
import os
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

RED, BLUE, GREEN = (220, 20, 60), (30, 60, 200), (20, 160, 60)


def image(fmt: str, size=(64, 48), color=RED, mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **save)
    return out.getvalue()


def noise(fmt: str, size=(100, 100)) -> bytes:
    """An image that does not compress: its bytes are spread over the whole file."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, fmt)
    return out.getvalue()


def animated(fmt: str, size=(40, 30), colors=(RED, BLUE, GREEN)) -> bytes:
    frames = [Image.new("RGB", size, c) for c in colors]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header declares ``width`` by ``height`` pixels:
    a decompression bomb in a few dozen bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _chunk(b"IEND", b"")


def mp4(major: bytes = b"isom", compatible: tuple[bytes, ...] = (b"isom", b"iso2", b"avc1", b"mp41")) -> bytes:
    """An ISO BMFF ``ftyp`` box followed by an empty ``mdat``, as an MP4 starts."""
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    return ftyp + struct.pack(">I", 8 + 64) + b"mdat" + bytes(64)


def webm(doctype: bytes = b"webm") -> bytes:
    """An EBML header (version, limits, DocType) and the start of a Segment."""

    def element(element_id: bytes, data: bytes) -> bytes:
        return element_id + bytes([0x80 | len(data)]) + data

    header = b"".join([
        element(b"\x42\x86", b"\x01"),  # EBMLVersion
        element(b"\x42\xf7", b"\x01"),  # EBMLReadVersion
        element(b"\x42\xf2", b"\x04"),  # EBMLMaxIDLength
        element(b"\x42\xf3", b"\x08"),  # EBMLMaxSizeLength
        element(b"\x42\x82", doctype),  # DocType
        element(b"\x42\x87", b"\x04"),  # DocTypeVersion
        element(b"\x42\x85", b"\x02"),  # DocTypeReadVersion
    ])
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header)]) + header + b"\x18\x53\x80\x67\x01" + bytes(64)


HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width=\"10\" height=\"10\"/></svg>"
)
TEXT = b"This is not an image, whatever its name says.\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(200)


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
