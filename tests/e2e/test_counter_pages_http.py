"""The counter's pages as served (no browser, no models): the pages and their
files come from the package with a strict Content-Security-Policy and cache
headers, nothing in them points at another origin or runs inline, every text
is in both message tables, every reason code has plain words, and GET /v1/me
tells a page whose token it holds."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from browser_support import message_table

from fake_engine import fake_runtime
from service_support import make_service
from simreg.domain.access import Role
from simreg.domain.id_document import IdReason
from simreg.domain.reasons import ReasonCode
from simreg.http.ui import CSP, STATIC_DIR, load_assets

LANGS = ("zh-CN", "en")
TESTIDS = {"/": ["token", "login", "id-number", "name", "id-expiry", "portrait", "consent", "start", "prompt",
                 "outcome", "lang", "logout"],
           "/dashboard": ["token", "login", "review-queue", "outlet-report", "lang", "logout"]}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = make_service(fake_runtime(), f"sqlite:///{tmp_path_factory.mktemp('pages') / 'simreg.sqlite3'}")
    with s.client:
        yield s
    s.close()


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_a_page_is_served_in_chinese_with_a_strict_policy_and_the_dom_contract(svc, path):
    r = svc.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "script-src 'self';" in CSP and "media-src 'self' blob:" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    assert '<html lang="zh-CN">' in html
    for testid in TESTIDS[path]:
        assert f'data-testid="{testid}"' in html, testid
    # every asset is named with the version of the static files, so an upgrade is never half-cached
    _, version = load_assets()
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert refs and all(ref.endswith(f"?v={version}") for ref in refs)
    again = svc.client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_the_portrait_input_is_a_visible_file_input():
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    tag = re.search(r'<input[^>]*data-testid="portrait"[^>]*>', html).group(0)
    assert 'type="file"' in tag and "hidden" not in tag and "display:none" not in tag.replace(" ", "")


def test_assets_are_cached_and_revalidated_and_unknown_paths_are_enveloped_404s(svc):
    r = svc.client.get("/static/capture.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "public, max-age=86400"
    assert r.headers["content-security-policy"] == CSP
    assert svc.client.get("/static/capture.js", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    for bad in ["/static/nope.js", "/static/../ui.py", "/static/%2e%2e/ui.py", "/static/index.html", "/static/",
                "/static/a/b.js", "/nope"]:
        r = svc.client.get(bad)
        assert r.status_code == 404, bad
        assert set(r.json()) == {"code", "message", "request_id"} and r.json()["code"] == "ROUTE.NOT_FOUND", bad
    r = svc.client.post("/static/capture.js", content=b"x")
    assert r.status_code == 405 and set(r.json()) == {"code", "message", "request_id"}


def test_the_static_files_ship_in_the_package():
    packaged = {p.name for p in resources.files("simreg.http").joinpath("static").iterdir()}
    assert {"index.html", "dashboard.html", "capture.js", "dashboard.js", "common.js", "idcheck.js", "style.css",
            "messages-zh-CN.js", "messages-en.js"} <= packaged
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"http/static/*"' in pyproject


def test_nothing_is_loaded_from_another_origin_and_nothing_runs_inline():
    svg_namespace = "http://www.w3.org/2000/svg"  # an XML namespace name, never fetched
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        urls = [u for u in re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text, re.I)
                if not u.startswith(svg_namespace)]
        assert urls == [], f"{path.name} names another origin: {urls}"
        assert "@import" not in text and "url(http" not in text
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path.name}"
            assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {path.name}"
            assert not re.search(r"\sstyle=", text), f"inline style in {path.name}"
        if path.suffix == ".js":
            assert "eval(" not in text and "new Function" not in text and "innerHTML" not in text, path.name


def test_both_message_tables_have_the_same_texts_and_every_page_key():
    tables = {lang: message_table(lang) for lang in LANGS}
    assert set(tables["zh-CN"]) == set(tables["en"])
    used = set()
    for path in STATIC_DIR.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', path.read_text(encoding="utf-8")))
    for path in STATIC_DIR.glob("*.js"):
        used |= {k for k in re.findall(r'"((?:[a-z_]+\.)+[a-z_]+)"', path.read_text(encoding="utf-8"))
                 if k.split(".")[0] in {"state", "prompt", "hint", "field", "camera", "outcome", "next", "dash",
                                        "score", "dispute", "report", "chart", "audit", "id", "login", "error",
                                        "consent", "role", "logout", "flag"}}
    missing = sorted(k for k in used if k not in tables["en"])
    assert missing == []
    assert tables["zh-CN"]["consent.version_id"] != tables["en"]["consent.version_id"]  # the text shown is recorded
    assert all(len(v) <= 64 for v in (tables[lang]["consent.version_id"] for lang in LANGS))


def test_every_reason_code_has_plain_words_in_both_languages():
    """The outcome screen maps the stable codes to words; a new code needs its
    words in src/simreg/http/static/messages-*.js."""
    codes = {c.value for c in ReasonCode} | {c.value for c in IdReason}
    for lang in LANGS:
        table = message_table(lang)
        missing = sorted(c for c in codes if f"reason.{c}" not in table)
        assert missing == [], f"messages-{lang}.js lacks reason.<code> for {missing}"


def test_me_tells_a_page_the_name_role_outlet_and_capture_limits(svc):
    for role in Role:
        r = svc.client.get("/v1/me", headers=svc.auth(role))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["role"] == role.value and body["name"] == f"{role.value} one"
        assert body["outlet"] == "Counter 7" and body["outlet_id"] == svc.outlet_id
        assert body["capture"]["max_video_duration_s"] == svc.rt.settings.max_video_duration_s
    r = svc.client.get("/v1/me")
    assert r.status_code == 401 and set(r.json()) == {"code", "message", "request_id"}
    r = svc.client.get("/v1/me", headers={"Authorization": "Bearer \u202e".encode() + b"\xff" + b"x" * 5000})
    assert r.status_code == 401 and r.json()["code"] == "AUTH.INVALID"
