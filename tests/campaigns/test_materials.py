"""The materials service: uploads judged by content with size and pixel limits and
thumbnails, articles sanitised by nh3, archiving, and scope — against the real database
and a real (temporary) media directory."""

# ruff: noqa: RUF001 -- pixel sizes are written with the multiplication sign
import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from PIL import Image

from accounts.models import AuditEntry
from campaigns.models import Material, MaterialKind
from campaigns.selectors import materials as selectors
from campaigns.services import materials as services
from tests.campaigns import files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def upload(actor, kind, name, content, *, filename="file.bin", content_type="application/octet-stream", **extra):
    return services.material_upload(
        actor=actor, kind=kind, name=name, uploaded_file=files.upload(filename, content, content_type), **extra
    )


def refused(actor, kind, content, media_root, *, filename="file.bin", content_type="application/octet-stream") -> str:
    """Upload, expect a refusal on the file, check nothing was written; the message."""
    with pytest.raises(ValidationError) as caught:
        upload(actor, kind, "refused", content, filename=filename, content_type=content_type)
    assert Material.objects.count() == 0
    assert stored_files(media_root) == []
    assert AuditEntry.objects.filter(action="material.upload").count() == 0
    return " ".join(caught.value.message_dict["file"])


def thumbnail_of(material) -> Image.Image:
    with material.thumbnail.open("rb") as handle:
        thumb = Image.open(io.BytesIO(handle.read()))
        thumb.load()
    return thumb


# --- images that pass ------------------------------------------------------------------


def test_a_png_poster_is_stored_under_a_random_name_with_its_facts_and_a_thumbnail(personas, tree, media_root):
    content = files.image("PNG", size=(64, 48))
    material = upload(personas.operator, MaterialKind.POSTER, "  Spring poster ", content, filename="../../evil.html")

    material.refresh_from_db()
    assert (material.kind, material.name, material.owner_branch) == (MaterialKind.POSTER, "Spring poster", tree.bj)
    assert (material.content_type, material.size, material.width, material.height) == ("image/png", len(content), 64, 48)
    assert material.file.name.startswith("materials/") and material.file.name.endswith(".png")
    assert "evil" not in material.file.name
    assert Path(material.file.path).read_bytes() == content
    assert thumbnail_of(material).size == (64, 48)
    entry = AuditEntry.objects.get(action="material.upload")
    assert (entry.actor, entry.branch, entry.object_id) == (personas.operator, tree.bj, str(material.pk))


def test_a_large_jpeg_gets_a_jpeg_thumbnail_of_at_most_320_pixels(personas, media_root):
    material = upload(personas.operator, MaterialKind.POSTER, "Big", files.image("JPEG", size=(1200, 900)))
    assert (material.content_type, material.width, material.height) == ("image/jpeg", 1200, 900)
    assert material.file.name.endswith(".jpg") and material.thumbnail.name.endswith(".jpg")
    thumb = thumbnail_of(material)
    assert thumb.format == "JPEG" and thumb.size == (320, 240)


def test_a_webp_poster_is_accepted(personas, media_root):
    material = upload(personas.operator, MaterialKind.POSTER, "WebP", files.image("WEBP", size=(500, 100)))
    assert (material.content_type, material.width, material.height) == ("image/webp", 500, 100)
    assert material.file.name.endswith(".webp")
    assert thumbnail_of(material).size == (320, 64)


def test_a_transparent_png_keeps_its_transparency_in_a_png_thumbnail(personas, media_root):
    content = files.image("PNG", size=(400, 400), color=(0, 0, 0, 0), mode="RGBA")
    material = upload(personas.operator, MaterialKind.POSTER, "Logo", content)
    thumb = thumbnail_of(material)
    assert material.thumbnail.name.endswith(".png")
    assert thumb.format == "PNG" and thumb.mode == "RGBA" and thumb.size == (320, 320)


def test_a_sideways_jpeg_records_the_size_it_is_shown_at(personas, media_root):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    content = files.image("JPEG", size=(600, 200), exif=exif.tobytes())
    material = upload(personas.operator, MaterialKind.POSTER, "Turned", content)
    assert (material.width, material.height) == (200, 600)
    assert thumbnail_of(material).size == (107, 320)


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [("GIF", "image/gif", ".gif"), ("WEBP", "image/webp", ".webp"), ("PNG", "image/apng", ".png")],
)
def test_an_animated_image_is_accepted_with_a_thumbnail_of_its_first_frame(personas, media_root, fmt, content_type, extension):
    material = upload(personas.operator, MaterialKind.ANIMATED, "Spinner", files.animated(fmt, size=(40, 30)))
    assert (material.content_type, material.width, material.height) == (content_type, 40, 30)
    assert material.file.name.endswith(extension)
    thumb = thumbnail_of(material).convert("RGB")
    red, _green, blue = thumb.getpixel((20, 15))
    assert red > 150 and blue < 100, "the first frame is red"


# --- images that are refused -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (files.TEXT, "poster.png", "image/png"),
        (files.HTML_PAGE, "poster.jpg", "image/jpeg"),
        (files.SVG_WITH_SCRIPT, "poster.svg", "image/svg+xml"),
        (files.SVG_WITH_SCRIPT, "poster.png", "image/png"),
        (files.EXE, "poster.webp", "image/webp"),
        (files.mp4(), "poster.png", "image/png"),
    ],
    ids=["text-as-png", "html-as-jpg", "svg-with-script", "svg-as-png", "exe-as-webp", "video-as-png"],
)
def test_a_file_that_only_pretends_to_be_a_poster_is_refused_and_nothing_is_written(
    personas, media_root, content, filename, content_type
):
    message = refused(personas.operator, MaterialKind.POSTER, content, media_root, filename=filename, content_type=content_type)
    assert "not a PNG, JPEG or WebP image" in message and "content was checked" in message


def test_a_pretend_animated_image_is_refused_naming_the_accepted_formats(personas, media_root):
    message = refused(personas.operator, MaterialKind.ANIMATED, files.HTML_PAGE, media_root, filename="a.gif")
    assert "not a GIF, animated PNG or animated WebP image" in message


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_a_still_image_is_refused_as_an_animated_image(personas, media_root, fmt):
    message = refused(personas.operator, MaterialKind.ANIMATED, files.image(fmt), media_root)
    assert "single frame" in message and "poster" in message


def test_a_jpeg_is_refused_as_an_animated_image(personas, media_root):
    message = refused(personas.operator, MaterialKind.ANIMATED, files.image("JPEG"), media_root)
    assert "A JPEG cannot be animated" in message


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_an_animated_image_is_refused_as_a_poster(personas, media_root, fmt):
    message = refused(personas.operator, MaterialKind.POSTER, files.animated(fmt), media_root)
    assert "animated" in message


def test_a_gif_is_refused_as_a_poster(personas, media_root):
    message = refused(personas.operator, MaterialKind.POSTER, files.image("GIF"), media_root)
    assert "A GIF is not a poster" in message


def test_an_image_over_the_size_limit_is_refused(personas, media_root, settings):
    content = files.noise("PNG", size=(100, 100))
    settings.MATERIAL_IMAGE_MAX_BYTES = len(content) - 1
    message = refused(personas.operator, MaterialKind.POSTER, content, media_root)
    assert "at most" in message


def test_an_image_wider_than_the_pixel_limit_is_refused(personas, media_root, settings):
    settings.MATERIAL_MAX_PIXELS = 1000
    message = refused(personas.operator, MaterialKind.POSTER, files.image("PNG", size=(1001, 10)), media_root)
    assert "1001 × 10 pixels" in message and "1000 × 1000" in message


def test_a_decompression_bomb_is_refused_from_its_header(personas, media_root):
    bomb = files.png_declaring(100_000, 100_000)
    assert len(bomb) < 200
    message = refused(personas.operator, MaterialKind.POSTER, bomb, media_root, filename="bomb.png")
    assert "too large" in message and "4096 × 4096" in message


def test_an_image_pillow_only_warns_about_is_refused_too(personas, media_root, settings):
    # 10,000² pixels lies between Pillow's warning and its error: the warning must refuse too.
    settings.MATERIAL_MAX_PIXELS = 1_000_000
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS
    message = refused(personas.operator, MaterialKind.POSTER, files.png_declaring(10_000, 10_000), media_root)
    assert "too large" in message


def test_a_truncated_image_is_refused_as_damaged(personas, media_root):
    content = files.noise("PNG", size=(200, 200))
    message = refused(personas.operator, MaterialKind.POSTER, content[: len(content) // 2], media_root)
    assert "damaged or incomplete" in message


def test_an_empty_file_is_refused(personas, media_root):
    assert "empty" in refused(personas.operator, MaterialKind.POSTER, b"", media_root)


# --- videos ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "extension"),
    [(files.mp4(), "video/mp4", ".mp4"), (files.mp4(b"mp42", (b"mp42", b"isom")), "video/mp4", ".mp4"),
     (files.webm(), "video/webm", ".webm")],
    ids=["mp4-isom", "mp4-mp42", "webm"],
)
def test_a_video_is_recognised_by_its_first_bytes_and_gets_no_thumbnail(personas, media_root, content, content_type, extension):
    material = upload(personas.operator, MaterialKind.VIDEO, "Clip", content, filename="clip.mov")
    assert (material.content_type, material.size, material.width, material.height) == (content_type, len(content), None, None)
    assert material.file.name.endswith(extension) and not material.thumbnail
    assert Path(material.file.path).read_bytes() == content
    assert len(stored_files(media_root)) == 1


@pytest.mark.parametrize(
    "content",
    [files.TEXT, files.image("PNG"), files.mp4(b"qt  ", (b"qt  ",)), files.mp4(b"heic", (b"mif1", b"heic")),
     files.webm(b"matroska"), files.HTML_PAGE],
    ids=["text", "png", "quicktime", "heic", "matroska", "html"],
)
def test_a_file_that_is_not_mp4_or_webm_is_refused_as_a_video(personas, media_root, content):
    message = refused(personas.operator, MaterialKind.VIDEO, content, media_root, filename="clip.mp4", content_type="video/mp4")
    assert "not an MP4 or WebM video" in message


def test_a_video_over_the_size_limit_is_refused(personas, media_root, settings):
    settings.MATERIAL_VIDEO_MAX_BYTES = 50
    assert "at most" in refused(personas.operator, MaterialKind.VIDEO, files.mp4(), media_root)


def test_a_kind_that_is_not_uploaded_is_refused(personas, media_root):
    with pytest.raises(ValidationError) as caught:
        upload(personas.operator, MaterialKind.ARTICLE, "Text", files.image("PNG"))
    assert "kind" in caught.value.message_dict
    assert stored_files(media_root) == []


def test_a_failure_after_the_files_are_written_leaves_no_file_and_no_row(personas, media_root, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        upload(personas.operator, MaterialKind.POSTER, "Poster", files.image("PNG"))
    assert Material.objects.count() == 0
    assert stored_files(media_root) == []


# --- scope and roles -----------------------------------------------------------------------


def test_head_office_may_upload_for_a_branch_in_its_scope(personas, tree, media_root):
    material = upload(personas.ho_admin, MaterialKind.POSTER, "For Shanghai", files.image("PNG"), owner_branch=tree.sh)
    assert material.owner_branch == tree.sh


def test_a_branch_admin_may_upload_for_a_sub_branch_but_not_a_sibling(personas, tree, media_root):
    assert upload(personas.branch_admin, MaterialKind.POSTER, "HD", files.image("PNG"), owner_branch=tree.hd).owner_branch == tree.hd
    with pytest.raises(ValidationError) as caught:
        upload(personas.branch_admin, MaterialKind.POSTER, "SH", files.image("PNG"), owner_branch=tree.sh)
    assert "owner_branch" in caught.value.message_dict
    assert Material.objects.count() == 1 and len(stored_files(media_root)) == 2


@pytest.mark.parametrize("role", ["analyst", "reviewer"])
def test_a_reader_cannot_upload(personas, media_root, role):
    with pytest.raises(PermissionDenied):
        upload(getattr(personas, role), MaterialKind.POSTER, "No", files.image("PNG"))
    assert stored_files(media_root) == []


def test_everyone_in_scope_reads_materials_and_nobody_outside_it(personas, tree):
    bj = services.material_article_create(actor=personas.operator, name="BJ", body="<p>bj</p>")
    hd = services.material_article_create(actor=personas.sub_admin, name="HD", body="<p>hd</p>")
    sh = services.material_article_create(actor=personas.outsider, name="SH", body="<p>sh</p>")
    assert set(selectors.material_list(user=personas.analyst)) == {bj, hd}
    assert set(selectors.material_list(user=personas.sub_admin)) == {hd}
    assert set(selectors.material_list(user=personas.ho_admin)) == {bj, hd, sh}
    services.material_archive(actor=personas.operator, material=bj)
    assert list(selectors.material_choices(user=personas.analyst)) == [hd]
    assert list(selectors.material_choices(user=personas.ho_admin, kinds=[MaterialKind.POSTER])) == []


# --- articles ------------------------------------------------------------------------------


def test_an_article_is_sanitised_down_to_the_allowed_tags(personas, tree):
    body = (
        '<h1 style="color:red">Title</h1><h2 onclick="steal()">Spring</h2>'
        "<p>Win <strong>big</strong>, <em>now</em> <u>here</u><br>today</p>"
        "<script>alert(document.cookie)</script><style>p{display:none}</style>"
        '<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>quote</blockquote>'
        '<a href="javascript:alert(1)">bad</a><a href="https://bank.example/rules" target="_blank">rules</a>'
        '<a href="mailto:help@bank.example">mail</a>'
        '<img src="x" onerror="alert(1)"><img src="https://cdn.bank.example/a.png" alt="A">'
        '<img src="/media/materials/2026/01/a.png"><img src="data:image/png;base64,AAAA">'
        '<iframe src="https://evil.example">frame</iframe><div>kept text</div>'
    )
    material = services.material_article_create(actor=personas.operator, name=" Rules ", body=body)
    clean = material.body
    for gone in ("<script", "alert", "<style", "display:none", "onclick", "onerror", "style=", "javascript:",
                 "<h1", "<iframe", "frame", "data:", "target=", "<div"):
        assert gone not in clean, gone
    for kept in ("<h2>Spring</h2>", "<strong>big</strong>", "<em>now</em>", "<u>here</u>", "<br>", "<ul><li>one</li></ul>",
                 "<ol><li>two</li></ol>", "<blockquote>quote</blockquote>",
                 '<a href="https://bank.example/rules" rel="noopener">rules</a>',
                 '<a href="mailto:help@bank.example" rel="noopener">mail</a>',
                 '<img src="https://cdn.bank.example/a.png" alt="A">', '<img src="/media/materials/2026/01/a.png">',
                 "Title", "kept text"):
        assert kept in clean, kept
    assert (material.kind, material.name, material.content_type, material.size) == (
        MaterialKind.ARTICLE, "Rules", "text/html", len(clean.encode())
    )
    assert AuditEntry.objects.filter(action="material.article_create", object_id=str(material.pk)).exists()


@pytest.mark.parametrize(
    "link",
    ["JaVaScRiPt:alert(1)", " javascript:alert(1)", "java&#09;script:alert(1)", "vbscript:x", "/relative", "//evil.example/x"],
)
def test_an_article_link_keeps_only_http_https_and_mailto(link):
    assert "href" not in services.sanitize(f'<a href="{link}">x</a>')


def test_an_article_with_nothing_allowed_is_refused(personas):
    with pytest.raises(ValidationError) as caught:
        services.material_article_create(actor=personas.operator, name="Empty", body="<script>alert(1)</script><p> </p>")
    assert "empty" in " ".join(caught.value.message_dict["body"])
    assert Material.objects.count() == 0


def test_an_article_is_edited_and_sanitised_again(personas):
    article = services.material_article_create(actor=personas.operator, name="Rules", body="<p>v1</p>")
    services.material_article_update(
        actor=personas.branch_admin, material=article, name="Rules v2", body='<p onmouseover="x()">v2</p>'
    )
    article.refresh_from_db()
    assert (article.name, article.body, article.size) == ("Rules v2", "<p>v2</p>", len("<p>v2</p>"))


def test_an_outsider_and_a_reader_cannot_edit_an_article(personas):
    article = services.material_article_create(actor=personas.operator, name="Rules", body="<p>v1</p>")
    for actor in (personas.outsider, personas.analyst, personas.sub_admin):
        with pytest.raises(PermissionDenied):
            services.material_article_update(actor=actor, material=article, name="x", body="<p>x</p>")
    article.refresh_from_db()
    assert article.body == "<p>v1</p>"


def test_only_a_live_article_can_be_edited(personas, media_root):
    poster = upload(personas.operator, MaterialKind.POSTER, "Poster", files.image("PNG"))
    with pytest.raises(ValidationError, match="Only an article"):
        services.material_article_update(actor=personas.operator, material=poster, name="x", body="<p>x</p>")
    article = services.material_article_create(actor=personas.operator, name="Rules", body="<p>v1</p>")
    services.material_archive(actor=personas.operator, material=article)
    with pytest.raises(ValidationError, match="restore it first"):
        services.material_article_update(actor=personas.operator, material=article, name="x", body="<p>x</p>")


# --- archive -------------------------------------------------------------------------------


def test_archive_and_restore_are_recorded_once_each(personas):
    article = services.material_article_create(actor=personas.operator, name="Rules", body="<p>v1</p>")
    services.material_archive(actor=personas.operator, material=article)
    services.material_archive(actor=personas.operator, material=article)
    article.refresh_from_db()
    assert article.is_archived
    services.material_restore(actor=personas.branch_admin, material=article)
    article.refresh_from_db()
    assert not article.is_archived
    actions = list(AuditEntry.objects.filter(object_type="campaigns.material", object_id=str(article.pk)).order_by("pk").values_list("action", flat=True))
    assert actions == ["material.article_create", "material.archive", "material.restore"]


def test_a_reader_or_outsider_cannot_archive(personas):
    article = services.material_article_create(actor=personas.operator, name="Rules", body="<p>v1</p>")
    for actor in (personas.analyst, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.material_archive(actor=actor, material=article)
    article.refresh_from_db()
    assert not article.is_archived
