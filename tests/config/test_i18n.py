import shutil
import subprocess
import sys
from pathlib import Path

from django.urls import reverse
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".venv", ".git", "var", "media", "staticfiles", "vendor", "__pycache__", "*.mo", "db.sqlite3*", ".ruff_cache")


def test_language_switch_changes_the_interface_language(login, personas):
    client = login(personas.branch_admin)
    english = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Dashboard" in english.content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("dashboard")})
    chinese = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    body = chinese.content.decode()
    assert "仪表盘" in body and 'lang="zh-hans"' in body
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert 'lang="en"' in client.get(reverse("dashboard")).content.decode()


def test_chinese_is_the_default_for_a_browser_that_asks_for_no_language(client, db, settings):
    from config import settings as real_settings

    assert real_settings.LANGUAGE_CODE == "zh-hans"
    settings.LANGUAGE_CODE = real_settings.LANGUAGE_CODE  # tests otherwise run in English
    response = client.get(reverse("accounts:login"))
    assert 'lang="zh-hans"' in response.content.decode()
    assert "登录" in response.content.decode()


def test_role_and_verb_names_are_translated():
    from accounts.models import Role

    with translation.override("zh-hans"):
        assert str(Role.BRANCH_ADMIN.label) == "分行管理员"
        assert str(Role.REVIEWER.label) == "审核人"


def test_zh_hans_catalogue_covers_every_string_in_the_code(tmp_path):
    """makemessages on a copy of the tree: nothing untranslated, nothing fuzzy."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "--ignore=tests"],
        cwd=copy, check=True, capture_output=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    po = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", "--no-obsolete", "--no-wrap", str(po)],
        capture_output=True, text=True, check=True,
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-obsolete", "--no-wrap", str(po)],
        capture_output=True, text=True, check=True,
    ).stdout
    missing = [line for line in untranslated.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    assert not missing, "untranslated: " + "; ".join(missing[:20])
    assert "msgid" not in fuzzy.replace('msgid ""', ""), "fuzzy entries:\n" + fuzzy[:2000]
