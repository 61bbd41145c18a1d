"""The materials library: uploaded posters, animated images and short videos,
and articles (rich text).

An upload is judged by its content, never by its name or the type the
browser claims: images are opened by Pillow (restricted to PNG, JPEG, WebP
and GIF, so no other decoder ever sees an upload) and verified; videos are
recognised by their first bytes (an MP4 ``ftyp`` box with an MP4 brand, or a
WebM EBML header). The stored file gets a random name with the extension of
what it really is, so a renamed HTML page can never be served as one.

Everything is checked before anything is written; a refused upload leaves no
row and no file. Files are written first and removed again if the row cannot
be saved.

Articles are HTML cleaned by nh3 to a small set of tags (allow-list); they
are cleaned when saved and again when shown.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import warnings
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import nh3
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.permissions import Verb, can
from accounts.services import audit_record
from campaigns.models import Material, MaterialKind

UPLOAD_KINDS = (MaterialKind.POSTER, MaterialKind.ANIMATED, MaterialKind.VIDEO)
THUMBNAIL_SIZE = 320
ARTICLE_MAX_CHARS = 200_000
# Enough for the MP4 ftyp box or the WebM EBML header, both at the very start.
VIDEO_HEAD_BYTES = 4096

# Every decoder Pillow may use on an upload; the kind then narrows the format.
_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_POSTER_FORMATS = {"PNG", "JPEG", "WEBP"}
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
# ISO base media files whose brands say "MP4" (QuickTime .mov, HEIF and 3GP are not).
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1"}
_EBML_HEADER, _EBML_DOCTYPE = 0x1A45DFA3, 0x4282
# Pillow's errors for a file that claims a format but is broken inside.
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

ARTICLE_TAGS = {"p", "br", "strong", "em", "u", "h2", "h3", "ul", "ol", "li", "a", "img", "blockquote"}
# Removed together with their content (nh3 keeps the text of other removed tags).
_ARTICLE_DROPPED = {"script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript", "textarea", "title"}
_ARTICLE_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
_LINK = re.compile(r"(?i)^(https?://[^/\s]|mailto:\S)")
_REMOTE_IMAGE = re.compile(r"(?i)^https?://[^/\s]")


@dataclass
class _Inspected:
    """What an upload really is, found before anything is written."""

    content: File
    content_type: str
    extension: str
    size: int
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_extension: str = ""


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": ValidationError(message, code="invalid_file")})


def _owner_branch(actor, owner_branch):
    """The actor's branch by default; another branch only when it is in scope."""
    if not can(actor, Verb.EDIT):
        raise PermissionDenied
    branch = owner_branch or getattr(actor, "branch", None)
    if branch is None or not can(actor, Verb.EDIT, branch):
        raise ValidationError({"owner_branch": _("Choose a branch in your scope.")})
    return branch


# --- uploads -------------------------------------------------------------------------


def material_upload(*, actor, kind: str, name: str, uploaded_file, owner_branch=None) -> Material:
    """Check an uploaded poster, animated image or short video by its content,
    store it with its thumbnail, and record it.

    ValidationError (on ``file``, ``kind``, ``name`` or ``owner_branch``) for a
    refused upload, which writes nothing; PermissionDenied for an actor who may
    not edit.
    """
    branch = _owner_branch(actor, owner_branch)
    if kind not in UPLOAD_KINDS:
        raise ValidationError({"kind": _("Choose a poster, an animated image or a short video.")})
    material = Material(
        owner_branch=branch, kind=kind, name=(name or "").strip(), created_by=actor
    )
    material.full_clean(exclude=["file", "thumbnail"])
    inspected = _inspect_video(uploaded_file) if kind == MaterialKind.VIDEO else _inspect_image(uploaded_file, kind)
    material.content_type = inspected.content_type
    material.size = inspected.size
    material.width, material.height = inspected.width, inspected.height
    return _store(actor, material, inspected)


def _store(actor, material: Material, inspected: _Inspected) -> Material:
    storage = material.file.storage
    written: list[str] = []
    stem = uuid.uuid4().hex
    try:
        with transaction.atomic():
            material.file.save(f"{stem}.{inspected.extension}", inspected.content, save=False)
            written.append(material.file.name)
            if inspected.thumbnail is not None:
                material.thumbnail.save(
                    f"{stem}.{inspected.thumbnail_extension}", ContentFile(inspected.thumbnail), save=False
                )
                written.append(material.thumbnail.name)
            material.save()
            audit_record(
                actor=actor,
                action="material.upload",
                obj=material,
                changes={
                    "kind": material.kind, "content_type": material.content_type, "size": material.size,
                    "width": material.width, "height": material.height,
                },
            )
    except BaseException:
        # The row is gone with the rollback; its files must not stay behind.
        for stored in written:
            storage.delete(stored)
        raise
    return material


def _check_size(size: int | None, limit: int) -> int:
    if not size:
        raise _file_error(_("The file is empty."))
    if size > limit:
        raise _file_error(
            _("The file is %(size)s; at most %(limit)s is allowed for this kind of material.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
        )
    return size


def _inspect_image(uploaded_file, kind: str) -> _Inspected:
    limit = settings.MATERIAL_IMAGE_MAX_BYTES
    _check_size(uploaded_file.size, limit)
    uploaded_file.seek(0)
    data = uploaded_file.read(limit + 1)
    _check_size(len(data), limit)  # what was read, whatever size was declared
    not_an_image = (
        _("This file is not a PNG, JPEG or WebP image (its content was checked, not its name).")
        if kind == MaterialKind.POSTER
        else _("This file is not a GIF, animated PNG or animated WebP image (its content was checked, not its name).")
    )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
                _check_dimensions(*image.size)
                image.verify()
            # verify() leaves the image unusable: open it again to read it.
            with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
                fmt = image.format
                animated = bool(getattr(image, "is_animated", False))
                _check_format(kind, fmt, animated)
                content_type = image.get_format_mimetype() or Image.MIME[fmt]
                width, height = _displayed_size(image)
                thumbnail, thumbnail_extension = _thumbnail(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _file_error(_too_many_pixels_message()) from exc
    except UnidentifiedImageError as exc:
        raise _file_error(not_an_image) from exc
    except _DAMAGED as exc:
        raise _file_error(_("The image is damaged or incomplete; save it again and upload the new file.")) from exc
    return _Inspected(
        content=ContentFile(data),
        content_type=content_type,
        extension=_EXTENSIONS[fmt],
        size=len(data),
        width=width,
        height=height,
        thumbnail=thumbnail,
        thumbnail_extension=thumbnail_extension,
    )


def _too_many_pixels_message() -> str:
    side = settings.MATERIAL_MAX_PIXELS
    return _("The image is too large: at most %(side)s × %(side)s pixels.") % {"side": side}  # noqa: RUF001


def _check_dimensions(width: int, height: int) -> None:
    # Checked from the header, before any pixel is decoded.
    side = settings.MATERIAL_MAX_PIXELS
    if width < 1 or height < 1:
        raise _file_error(_("The image has no pixels."))
    if width > side or height > side:
        raise _file_error(
            _("The image is %(width)s × %(height)s pixels; at most %(side)s × %(side)s is allowed.")  # noqa: RUF001
            % {"width": width, "height": height, "side": side}
        )


def _check_format(kind: str, fmt: str, animated: bool) -> None:
    if kind == MaterialKind.POSTER:
        if fmt not in _POSTER_FORMATS:
            raise _file_error(
                _("A GIF is not a poster: upload a PNG, JPEG or WebP image, or choose “animated image”.")
            )
        if animated:
            raise _file_error(_("This image is animated: choose “animated image” for it."))
    elif kind == MaterialKind.ANIMATED:
        if fmt not in _ANIMATED_FORMATS:
            raise _file_error(
                _("A JPEG cannot be animated: upload a GIF, animated PNG or animated WebP, or choose “poster”.")
            )
        if not animated:
            raise _file_error(_("This image has a single frame: choose “poster” for a still image."))


def _orientation_swaps(image: Image.Image) -> bool:
    # EXIF orientations 5 to 8 turn the picture by 90°; browsers show it turned.
    return image.getexif().get(0x0112) in (5, 6, 7, 8)


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    return (height, width) if _orientation_swaps(image) else (width, height)


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    """A JPEG (PNG when transparent) of at most THUMBNAIL_SIZE pixels a side,
    of the first frame."""
    image.seek(0)
    if image.format == "JPEG":
        image.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))  # decode at a fraction of full size
    frame = ImageOps.exif_transpose(image)
    transparent = frame.has_transparency_data
    frame = frame.convert("RGBA" if transparent else "RGB")
    frame.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    if transparent:
        frame.save(out, "PNG", optimize=True)
        return out.getvalue(), "png"
    frame.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue(), "jpg"


def _inspect_video(uploaded_file) -> _Inspected:
    size = _check_size(uploaded_file.size, settings.MATERIAL_VIDEO_MAX_BYTES)
    uploaded_file.seek(0)
    head = uploaded_file.read(VIDEO_HEAD_BYTES)
    uploaded_file.seek(0)
    found = video_type(head)
    if found is None:
        raise _file_error(_("This file is not an MP4 or WebM video (its content was checked, not its name)."))
    content_type, extension = found
    return _Inspected(content=File(uploaded_file), content_type=content_type, extension=extension, size=size)


def video_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a video by its first bytes, or None."""
    if len(head) >= 16 and head[4:8] == b"ftyp":
        box = int.from_bytes(head[0:4], "big")
        if not 16 <= box <= len(head):
            return None
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box - 3, 4)}
        return ("video/mp4", "mp4") if brands & _MP4_BRANDS else None
    if _ebml_doctype(head) == b"webm":
        return "video/webm", "webm"
    return None


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, position after it)."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        return None
    value = data[pos] if keep_marker else data[pos] & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_doctype(head: bytes) -> bytes | None:
    """The DocType of an EBML header ("webm", "matroska"), or None."""
    element = _vint(head, 0, keep_marker=True)
    if element is None or element[0] != _EBML_HEADER:
        return None
    size = _vint(head, element[1], keep_marker=False)
    if size is None:
        return None
    pos, end = size[1], min(size[1] + size[0], len(head))
    while pos < end:
        child = _vint(head, pos, keep_marker=True)
        length = child and _vint(head, child[1], keep_marker=False)
        if not child or not length:
            return None
        if child[0] == _EBML_DOCTYPE:
            return head[length[1] : length[1] + length[0]]
        pos = length[1] + length[0]
    return None


# --- articles ------------------------------------------------------------------------


def _article_attribute(tag: str, attribute: str, value: str) -> str | None:
    value = value.strip()
    if tag == "a" and attribute == "href":
        return value if _LINK.match(value) else None
    if tag == "img" and attribute == "src":
        if _REMOTE_IMAGE.match(value):
            return value
        ours = value.startswith(settings.MEDIA_URL) and not value.startswith("//") and ".." not in value
        return value if ours else None
    return value


def sanitize(html: str) -> str:
    """The article HTML reduced to the allowed tags and attributes: links only
    to http(s) and mailto (with rel="noopener"), images only from http(s) or
    our media; scripts, styles, event handlers and javascript: URLs are gone."""
    return nh3.clean(
        html or "",
        tags=ARTICLE_TAGS,
        clean_content_tags=_ARTICLE_DROPPED,
        attributes=_ARTICLE_ATTRIBUTES,
        attribute_filter=_article_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
        strip_comments=True,
    )


def _article_body(body: str) -> str:
    if len(body or "") > ARTICLE_MAX_CHARS:
        raise ValidationError(
            {"body": _("The article is too long: at most %(n)s characters.") % {"n": f"{ARTICLE_MAX_CHARS:,}"}}
        )
    clean = sanitize(body).strip()
    text = nh3.clean(clean, tags=set()).strip()
    if not text and "<img" not in clean:
        raise ValidationError({"body": _("The article is empty (after removing what is not allowed).")})
    return clean


def _article_changes(material: Material) -> dict[str, Any]:
    return {"name": material.name, "size": material.size}


@transaction.atomic
def material_article_create(*, actor, name: str, body: str, owner_branch=None) -> Material:
    """An article of sanitised HTML, owned by the actor's branch (or one in scope)."""
    branch = _owner_branch(actor, owner_branch)
    clean = _article_body(body)
    material = Material(
        owner_branch=branch,
        kind=MaterialKind.ARTICLE,
        name=(name or "").strip(),
        body=clean,
        content_type="text/html",
        size=len(clean.encode()),
        created_by=actor,
    )
    material.full_clean()
    material.save()
    audit_record(actor=actor, action="material.article_create", obj=material, changes=_article_changes(material))
    return material


@transaction.atomic
def material_article_update(*, actor, material: Material, name: str, body: str) -> Material:
    material = Material.objects.select_for_update().get(pk=material.pk)
    if not can(actor, Verb.EDIT, material):
        raise PermissionDenied
    if material.kind != MaterialKind.ARTICLE:
        raise ValidationError(_("Only an article can be edited; upload a new file instead."))
    if material.is_archived:
        raise ValidationError(_("An archived material cannot change; restore it first."))
    material.name = (name or "").strip()
    material.body = _article_body(body)
    material.size = len(material.body.encode())
    material.full_clean()
    material.save(update_fields=["name", "body", "size"])
    audit_record(actor=actor, action="material.article_update", obj=material, changes=_article_changes(material))
    return material


# --- archive -------------------------------------------------------------------------


@transaction.atomic
def material_archive(*, actor, material: Material) -> Material:
    """Hide a material from new use; campaigns that use it keep it."""
    return _set_archived(actor, material, archived=True)


@transaction.atomic
def material_restore(*, actor, material: Material) -> Material:
    return _set_archived(actor, material, archived=False)


def _set_archived(actor, material: Material, *, archived: bool) -> Material:
    material = Material.objects.select_for_update().get(pk=material.pk)
    if not can(actor, Verb.EDIT, material):
        raise PermissionDenied
    if material.is_archived != archived:
        material.is_archived = archived
        material.save(update_fields=["is_archived"])
        audit_record(
            actor=actor, action="material.archive" if archived else "material.restore", obj=material
        )
    return material


def default_name(uploaded_file) -> str:
    """A name for an upload left unnamed: the file's name without its extension."""
    return PurePath(getattr(uploaded_file, "name", "") or "").stem.strip()[:120]
