"""Materials pages and the live message counter: list with filters and pages, upload,
articles with their sanitised preview, detail, archive — per role and scope
(404 outside it, 403 for a reader, 405 for a wrong method)."""

# ruff: noqa: RUF001 -- pixel sizes are written with the multiplication sign
from pathlib import Path

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Material, MaterialKind
from campaigns.services import materials as services
from campaigns.services import messages as message_services
from tests.campaigns import files

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def article(actor, name, body="<p>text</p>", **extra):
    return services.material_article_create(actor=actor, name=name, body=body, **extra)


def poster(actor, name, **extra):
    return services.material_upload(
        actor=actor, kind=MaterialKind.POSTER, name=name, uploaded_file=files.upload("p.png", files.image("PNG")), **extra
    )


def names_on(response):
    return [m.name for m in response.context["page_obj"]]


@pytest.fixture
def library(personas, tree):
    """A poster and an article in Beijing, an article in Haidian, a video and an article in Shanghai."""
    video = services.material_upload(
        actor=personas.outsider, kind=MaterialKind.VIDEO, name="SH clip", uploaded_file=files.upload("c.mp4", files.mp4())
    )
    return {
        "bj_poster": poster(personas.operator, "BJ poster"),
        "bj_article": article(personas.operator, "BJ rules"),
        "hd_article": article(personas.sub_admin, "HD rules"),
        "sh_article": article(personas.outsider, "SH rules"),
        "sh_video": video,
    }


# --- list ----------------------------------------------------------------------------------


def test_the_list_shows_a_grid_of_materials_in_scope_with_thumbnails(login, personas, library):
    page = login(personas.analyst).get(reverse("campaigns:material_list"))
    assert page.status_code == 200
    assert sorted(names_on(page)) == ["BJ poster", "BJ rules", "HD rules"]
    html = page.content.decode()
    assert "SH rules" not in html and "SH clip" not in html
    assert library["bj_poster"].thumbnail.url in html
    assert 'id="material-upload"' not in html, "a reader is not offered the upload"


def test_head_office_sees_every_branchs_materials(login, personas, library):
    page = login(personas.ho_admin).get(reverse("campaigns:material_list"))
    assert sorted(names_on(page)) == ["BJ poster", "BJ rules", "HD rules", "SH clip", "SH rules"]
    assert 'id="material-upload"' in page.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "poster"}, ["BJ poster"]),
        ({"kind": "article"}, ["BJ rules", "HD rules"]),
        ({"q": "rules"}, ["BJ rules", "HD rules"]),
        ({"owner_branch": "BJ-HD"}, ["HD rules"]),
        ({"owner_branch": "BJ"}, ["BJ poster", "BJ rules", "HD rules"]),
    ],
)
def test_the_list_filters_by_kind_name_and_owner_branch(login, personas, library, query, expected):
    page = login(personas.branch_admin).get(reverse("campaigns:material_list"), query)
    assert sorted(names_on(page)) == expected


def test_archived_materials_show_only_when_asked_for(login, personas, library):
    services.material_archive(actor=personas.operator, material=library["bj_article"])
    client = login(personas.branch_admin)
    assert sorted(names_on(client.get(reverse("campaigns:material_list")))) == ["BJ poster", "HD rules"]
    assert names_on(client.get(reverse("campaigns:material_list"), {"status": "archived"})) == ["BJ rules"]
    assert len(names_on(client.get(reverse("campaigns:material_list"), {"status": "all"}))) == 3


def test_a_branch_outside_the_scope_is_not_a_filter_and_shows_nothing_of_it(login, personas, library):
    page = login(personas.branch_admin).get(reverse("campaigns:material_list"), {"owner_branch": "SH"})
    assert page.context["filter"].errors
    assert "SH rules" not in page.content.decode()
    assert sorted(names_on(page)) == ["BJ poster", "BJ rules", "HD rules"]


def test_the_list_pages_and_htmx_gets_only_the_grid(login, personas):
    for i in range(30):
        article(personas.operator, f"Article {i:02d}")
    client = login(personas.operator)
    first = client.get(reverse("campaigns:material_list"))
    second = client.get(reverse("campaigns:material_list"), {"page": 2}, **HTMX)
    assert len(first.context["page_obj"]) == 24 and len(second.context["page_obj"]) == 6
    assert set(names_on(first)).isdisjoint(names_on(second))
    assert "Page 1 of 2" in first.content.decode()
    assert second.content.decode().startswith('<div id="material-grid">')
    assert 'id="main-nav"' not in second.content.decode() and 'hx-target="#material-grid"' in second.content.decode()


def test_the_lists_query_count_does_not_grow_with_its_rows(login, personas):
    client = login(personas.operator)
    poster(personas.operator, "One")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("campaigns:material_list")).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(8):
        poster(personas.sub_admin, f"Poster {i}")
    assert queries() == few


def test_the_list_answers_405_to_a_post(login, personas):
    assert login(personas.operator).post(reverse("campaigns:material_list")).status_code == 405


def test_the_list_needs_a_login(client):
    response = client.get(reverse("campaigns:material_list"))
    assert response.status_code == 302 and "login" in response.url


# --- upload --------------------------------------------------------------------------------


def test_the_upload_form_shows_kinds_and_limits(login, personas):
    page = login(personas.operator).get(reverse("campaigns:material_upload"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "5.0\xa0MB" in html and "50.0\xa0MB" in html
    assert "owner_branch" in page.context["form"].fields  # Beijing has a sub-branch


def test_an_upload_is_stored_and_opens_its_page(login, personas, tree, media_root):
    response = login(personas.operator).post(
        reverse("campaigns:material_upload"),
        {"kind": "poster", "name": "Spring", "owner_branch": tree.hd.pk,
         "file": files.upload("spring.png", files.image("PNG"), "image/png")},
    )
    material = Material.objects.get()
    assert response.status_code == 302 and response.url == reverse("campaigns:material_detail", args=[material.pk])
    assert (material.name, material.owner_branch, material.created_by) == ("Spring", tree.hd, personas.operator)
    assert len(stored_files(media_root)) == 2


def test_an_unnamed_upload_takes_the_files_name(login, personas):
    login(personas.operator).post(
        reverse("campaigns:material_upload"),
        {"kind": "video", "name": "", "file": files.upload("Launch clip.webm", files.webm(), "video/webm")},
    )
    assert Material.objects.get().name == "Launch clip"


@pytest.mark.parametrize(
    ("kind", "content", "filename", "message"),
    [
        ("poster", files.TEXT, "fake.png", "not a PNG, JPEG or WebP image"),
        ("poster", files.HTML_PAGE, "page.jpg", "not a PNG, JPEG or WebP image"),
        ("animated", files.image("GIF"), "still.gif", "single frame"),
        ("video", files.TEXT, "fake.mp4", "not an MP4 or WebM video"),
    ],
)
def test_a_refused_upload_shows_the_reason_on_the_form_and_writes_nothing(login, personas, media_root, kind, content, filename, message):
    page = login(personas.operator).post(
        reverse("campaigns:material_upload"), {"kind": kind, "name": "x", "file": files.upload(filename, content, "image/png")}
    )
    assert page.status_code == 200
    assert message in " ".join(page.context["form"].errors["file"])
    assert message in page.content.decode()
    assert Material.objects.count() == 0 and stored_files(media_root) == []


def test_a_too_big_upload_is_refused_on_the_form(login, personas, media_root, settings):
    settings.MATERIAL_IMAGE_MAX_BYTES = 100
    page = login(personas.operator).post(
        reverse("campaigns:material_upload"), {"kind": "poster", "name": "x", "file": files.upload("a.png", files.noise("PNG"))}
    )
    assert "at most 100\xa0bytes" in " ".join(page.context["form"].errors["file"])
    assert Material.objects.count() == 0 and stored_files(media_root) == []


def test_a_tampered_owner_branch_is_a_form_error_and_writes_nothing(login, personas, tree, media_root):
    page = login(personas.branch_admin).post(
        reverse("campaigns:material_upload"),
        {"kind": "poster", "name": "x", "owner_branch": tree.sh.pk, "file": files.upload("a.png", files.image("PNG"))},
    )
    assert page.status_code == 200 and "owner_branch" in page.context["form"].errors
    assert Material.objects.count() == 0 and stored_files(media_root) == []


@pytest.mark.parametrize("role", ["analyst", "reviewer"])
def test_a_reader_may_not_upload(login, personas, media_root, role):
    client = login(getattr(personas, role))
    assert client.get(reverse("campaigns:material_upload")).status_code == 403
    response = client.post(
        reverse("campaigns:material_upload"), {"kind": "poster", "name": "x", "file": files.upload("a.png", files.image("PNG"))}
    )
    assert response.status_code == 403
    assert Material.objects.count() == 0 and stored_files(media_root) == []


def test_the_upload_answers_405_to_a_put(login, personas):
    assert login(personas.operator).put(reverse("campaigns:material_upload")).status_code == 405


# --- detail --------------------------------------------------------------------------------


def test_a_poster_page_shows_the_image_and_its_facts(login, personas, library):
    material = library["bj_poster"]
    page = login(personas.analyst).get(reverse("campaigns:material_detail", args=[material.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<img src="{material.file.url}"' in html and "64 × 48 pixels" in html and "image/png" in html
    assert 'id="material-archive"' not in html, "a reader cannot archive"


def test_a_video_page_plays_it_with_controls(login, personas, library):
    material = library["sh_video"]
    html = login(personas.ho_admin).get(reverse("campaigns:material_detail", args=[material.pk])).content.decode()
    assert f'<video controls preload="metadata" class="w-100" style="max-height: 70vh" src="{material.file.url}"' in html


def test_an_article_page_shows_only_sanitised_html_even_if_the_row_holds_more(login, personas, library):
    material = library["bj_article"]
    Material.objects.filter(pk=material.pk).update(body='<p>Hi</p><script>alert(1)</script><img src=x onerror="alert(2)">')
    html = login(personas.operator).get(reverse("campaigns:material_detail", args=[material.pk])).content.decode()
    assert "<p>Hi</p>" in html
    assert "alert(1)" not in html and "onerror" not in html
    assert 'id="article-edit"' in html and 'id="material-archive"' in html


def test_a_material_outside_the_scope_is_404(login, personas, library):
    assert login(personas.branch_admin).get(reverse("campaigns:material_detail", args=[library["sh_article"].pk])).status_code == 404
    assert login(personas.sub_admin).get(reverse("campaigns:material_detail", args=[library["bj_poster"].pk])).status_code == 404
    assert login(personas.outsider).get(reverse("campaigns:material_detail", args=[library["bj_poster"].pk])).status_code == 404


def test_the_detail_answers_405_to_a_post(login, personas, library):
    assert login(personas.operator).post(reverse("campaigns:material_detail", args=[library["bj_poster"].pk])).status_code == 405


# --- articles ------------------------------------------------------------------------------


def test_a_new_article_is_saved_sanitised(login, personas, tree):
    response = login(personas.operator).post(
        reverse("campaigns:material_article_new"),
        {"name": "Rules", "owner_branch": tree.bj.pk, "body": '<h2>Rules</h2><p onclick="x()">Be nice</p><script>bad()</script>'},
    )
    material = Material.objects.get()
    assert response.status_code == 302 and response.url == reverse("campaigns:material_detail", args=[material.pk])
    assert (material.kind, material.body) == (MaterialKind.ARTICLE, "<h2>Rules</h2><p>Be nice</p>")


def test_preview_shows_the_sanitised_html_and_saves_nothing(login, personas):
    page = login(personas.operator).post(
        reverse("campaigns:material_article_new"),
        {"name": "Rules", "body": '<p>Hello <a href="javascript:alert(1)">there</a></p><script>bad()</script>', "preview": "1"},
    )
    assert page.status_code == 200 and Material.objects.count() == 0
    assert page.context["preview_html"] == '<p>Hello <a rel="noopener">there</a></p>'
    assert "bad()" not in page.content.decode().split('id="article-preview"')[1]


def test_the_live_preview_returns_the_sanitised_fragment(login, personas):
    client = login(personas.analyst)
    fragment = client.post(reverse("campaigns:material_article_preview"), {"body": "<em>hi</em><img src=x onerror=alert(1)>"}, **HTMX)
    html = fragment.content.decode()
    assert html.startswith('<div id="article-preview"') and "<em>hi</em>" in html and "onerror" not in html
    assert client.get(reverse("campaigns:material_article_preview")).status_code == 405


def test_an_article_with_nothing_left_shows_the_error_on_the_form(login, personas):
    page = login(personas.operator).post(reverse("campaigns:material_article_new"), {"name": "x", "body": "<script>1</script>"})
    assert page.status_code == 200 and "empty" in " ".join(page.context["form"].errors["body"])
    assert Material.objects.count() == 0


def test_a_reader_may_not_write_an_article(login, personas):
    client = login(personas.analyst)
    assert client.get(reverse("campaigns:material_article_new")).status_code == 403
    assert client.post(reverse("campaigns:material_article_new"), {"name": "x", "body": "<p>x</p>"}).status_code == 403
    assert Material.objects.count() == 0


def test_an_article_is_edited(login, personas, library):
    material = library["bj_article"]
    client = login(personas.branch_admin)
    form = client.get(reverse("campaigns:material_article_edit", args=[material.pk]))
    assert form.status_code == 200 and form.context["preview_html"] == "<p>text</p>"
    response = client.post(reverse("campaigns:material_article_edit", args=[material.pk]), {"name": "New", "body": "<p>new</p>"})
    assert response.status_code == 302
    material.refresh_from_db()
    assert (material.name, material.body) == ("New", "<p>new</p>")


def test_editing_an_article_outside_the_scope_is_404_and_for_a_reader_403(login, personas, library):
    target = reverse("campaigns:material_article_edit", args=[library["bj_article"].pk])
    assert login(personas.outsider).post(target, {"name": "x", "body": "<p>x</p>"}).status_code == 404
    assert login(personas.analyst).post(target, {"name": "x", "body": "<p>x</p>"}).status_code == 403
    library["bj_article"].refresh_from_db()
    assert library["bj_article"].name == "BJ rules"


def test_a_poster_is_not_edited_as_an_article(login, personas, library):
    response = login(personas.operator).get(reverse("campaigns:material_article_edit", args=[library["bj_poster"].pk]))
    assert response.status_code == 302 and response.url == reverse("campaigns:material_detail", args=[library["bj_poster"].pk])


def test_the_article_pages_answer_405_to_a_delete(login, personas, library):
    client = login(personas.operator)
    assert client.delete(reverse("campaigns:material_article_new")).status_code == 405
    assert client.delete(reverse("campaigns:material_article_edit", args=[library["bj_article"].pk])).status_code == 405


# --- archive -------------------------------------------------------------------------------


def test_archive_and_restore(login, personas, library):
    material = library["bj_poster"]
    client = login(personas.operator)
    response = client.post(reverse("campaigns:material_archive", args=[material.pk]))
    assert response.status_code == 302
    material.refresh_from_db()
    assert material.is_archived
    assert 'id="material-restore"' in client.get(reverse("campaigns:material_detail", args=[material.pk])).content.decode()
    client.post(reverse("campaigns:material_restore", args=[material.pk]))
    material.refresh_from_db()
    assert not material.is_archived


def test_archive_outside_the_scope_is_404_for_a_reader_403_and_by_get_405(login, personas, library):
    target = reverse("campaigns:material_archive", args=[library["bj_poster"].pk])
    assert login(personas.outsider).post(target).status_code == 404
    assert login(personas.analyst).post(target).status_code == 403
    assert login(personas.operator).get(target).status_code == 405
    assert login(personas.analyst).post(reverse("campaigns:material_restore", args=[library["bj_poster"].pk])).status_code == 403
    library["bj_poster"].refresh_from_db()
    assert not library["bj_poster"].is_archived


# --- the message counter -----------------------------------------------------------------------


def test_the_counter_answers_an_htmx_post_from_the_textarea(login, personas):
    fragment = login(personas.operator).post(
        reverse("campaigns:message_counter"),
        {"channel": "sms", "field_id": "id_sms-template", "campaign_name": "Spring", "sms-template": "Join {campaign}: {link}"},
        **HTMX,
    )
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.startswith('<div id="id_sms-template-counter"')
    assert "1 SMS" in html and "GSM-7" in html and "(160 per message)" in html
    assert f"Join Spring: {message_services.SAMPLE_LINK}" in html
    assert 'hx-trigger="input changed delay:300ms from:#id_sms-template"' in html, "no second load request"


def test_the_counter_shows_ucs_2_parts_for_chinese(login, personas):
    html = login(personas.operator).get(
        reverse("campaigns:message_counter"), {"channel": "sms", "template": "活动" * 40}
    ).content.decode()
    assert "2 SMS" in html and "80 characters" in html and "UCS-2" in html and "(67 per message)" in html


def test_the_counter_names_placeholder_problems(login, personas):
    html = login(personas.analyst).post(
        reverse("campaigns:message_counter"), {"channel": "wechat", "template": "Hi {nmae} {link"}
    ).content.decode()
    assert "Unknown placeholder: {nmae}" in html and "never closed" in html
    assert "SMS" not in html


def test_the_counter_of_app_push_counts_characters(login, personas):
    html = login(personas.operator).post(
        reverse("campaigns:message_counter"), {"channel": "app", "template": "{name}"}
    ).content.decode()
    assert "2 characters" in html and "SMS" not in html


def test_the_counter_refuses_an_unknown_channel_and_a_put_and_needs_a_login(client, login, personas):
    assert client.get(reverse("campaigns:message_counter"), {"channel": "sms"}).status_code == 302
    logged_in = login(personas.operator)
    assert logged_in.post(reverse("campaigns:message_counter"), {"channel": "fax", "template": "x"}).status_code == 400
    assert logged_in.put(reverse("campaigns:message_counter")).status_code == 405


def test_the_counter_partial_included_without_counts_asks_for_them_on_load():
    html = render_to_string(
        "campaigns/partials/message_counter.html", {"channel": "sms", "field_id": "id_sms-template", "campaign_name": 'A "quoted" name'}
    )
    assert 'id="id_sms-template-counter"' in html
    assert f'hx-post="{reverse("campaigns:message_counter")}"' in html
    assert 'hx-include="#id_sms-template"' in html
    assert 'hx-trigger="input changed delay:300ms from:#id_sms-template, load"' in html
    assert "\\u0022quoted\\u0022" in html, "the name cannot break out of the JSON of hx-vals"
    assert "Placeholders: {name}, {campaign}, {link}." in html


def test_the_counter_partial_included_with_counts_shows_them_without_a_request():
    count = message_services.counter(template="a" * 161, channel="sms")
    html = render_to_string(
        "campaigns/partials/message_counter.html", {"channel": "sms", "field_id": "id_sms-template", "message_count": count}
    )
    assert "2 SMS" in html and "161 characters" in html and "(153 per message)" in html
    assert ", load" not in html
