"""The counter in a real browser (headless chromium through chromedriver): a
clerk logs in, types a document, takes the customer's consent, captures with
the camera (a y4m built from a shared bona fide video) following the service's
challenge, uploads, and reads the outcome in plain words, as the database
recorded it; the page checks ID numbers like the service; the language switch;
logging out empties the tab's storage; a supervisor decides the review queue
and an auditor reads the outlet report; no request ever leaves the origin.

One server and one browser serve the whole module.  The outcome of the real
capture (approved or review) depends on the face engine's scores, so the tests
check that the page shows what the service decided, not which decision it was.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_support import (
    CAMERA_CHALLENGE,
    CAMERA_VIDEO,
    browser_or_skip,
    build_camera_y4m,
    message_table,
    new_driver,
    start_live_server,
    stop_live_server,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from service_support import RESIDENT_ID, make_service
from simreg.adapters.sql.schema import capture_sessions, consents, registrations
from simreg.app.registration import document_kind
from simreg.domain.access import Role
from simreg.domain.flash import flash_plan
from simreg.domain.id_document import IdDocumentError, resident_id_check_char, validate_document
from simreg.domain.records import DecisionRecord
from simreg.eval.faces import centre_chip_portrait

pytestmark = pytest.mark.data

POOL = ["+8613800138000", "+8613800138001", "+8613800138002", "+8613800138003"]
ZH, EN = message_table("zh-CN"), message_table("en")
# a second valid resident ID (male, born 1990-03-07) for the registration seeded into review
SEEDED_ID = "11010119900307123" + resident_id_check_char("11010119900307123")


# ---------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def camera(data_dir, e2e_tmp) -> Path:
    browser_or_skip()
    return build_camera_y4m(data_dir / "videos" / CAMERA_VIDEO, e2e_tmp / "camera.y4m")


@pytest.fixture(scope="module")
def live(runtime, camera, e2e_tmp):
    svc = make_service(runtime, f"sqlite:///{e2e_tmp / 'counter.sqlite3'}", env="development")
    svc.add_numbers(POOL)
    server = start_live_server(svc)
    yield server
    stop_live_server(server)
    svc.close()


class Network:
    """Every URL the browser requested (from chromedriver's performance log)."""

    def __init__(self, driver):
        self.driver = driver
        self.urls: list[str] = []

    def drain(self) -> list[str]:
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.urls.append(msg["params"]["request"]["url"])
        return self.urls


@pytest.fixture(scope="module")
def browser(live, camera, e2e_tmp):
    driver = new_driver(camera, e2e_tmp)
    driver.set_script_timeout(30)
    driver.requests_seen = Network(driver)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def portrait_file(data_dir, e2e_tmp) -> Path:
    """A chip-sized portrait of the man in the camera video, from a separate still."""
    p = e2e_tmp / "chip-portrait.jpg"
    p.write_bytes(centre_chip_portrait(data_dir / "spoof" / "real" / "tranvanluyt_frame_1.jpg"))
    return p


# ---------------------------------------------------------------------------------- helpers

def wait(driver, cond, timeout: float = 20, message: str = ""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(cond, message)


def tid(driver, testid: str):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def lang_of(driver) -> str:
    return driver.execute_script("return document.documentElement.lang")


def open_and_log_in(driver, url: str, token: str):
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return !!(window.Simreg && window.Simreg.setupAuth)"))
    if lang_of(driver) != "zh-CN":
        tid(driver, "lang").click()
    tid(driver, "token").send_keys(token)
    tid(driver, "login").click()
    wait(driver, lambda d: tid(d, "who").is_displayed(), message="log-in did not complete")


def log_out(driver):
    tid(driver, "logout").click()
    wait(driver, lambda d: tid(d, "token").is_displayed())


def outcome_or_error(driver):
    out = tid(driver, "outcome")
    if out.get_attribute("data-outcome"):
        return "outcome"
    err = tid(driver, "error")
    return "error" if err.is_displayed() and err.get_attribute("data-code") else None


# ---------------------------------------------------------------------------------- tests

def test_the_capture_page_is_chinese_with_real_glyphs_and_switches_to_english(browser, live):
    browser.get(live.url + "/")
    wait(browser, lambda d: d.title == ZH["app.title"])
    assert lang_of(browser) == "zh-CN"
    assert tid(browser, "login").text == ZH["login.button"]
    # missing glyphs all draw the same box: two Chinese characters must differ from
    # each other and from a code point that has no character at all
    drawn = browser.execute_script("""
        const font = getComputedStyle(document.body).fontFamily;
        function draw(s) { const c = document.createElement('canvas'); c.width = 48; c.height = 40;
          const x = c.getContext('2d'); x.font = '32px ' + font; x.fillText(s, 4, 34); return c.toDataURL(); }
        return [draw('登'), draw('记'), draw('\\u0378')];""")
    assert len(set(drawn)) == 3, "Chinese text renders as missing-glyph boxes (fonts-wqy-microhei not installed?)"
    tid(browser, "lang").click()
    wait(browser, lambda d: lang_of(d) == "en")
    assert browser.title == EN["app.title"] and tid(browser, "login").text == EN["login.button"]
    assert tid(browser, "lang").text == EN["lang.other"]
    tid(browser, "lang").click()
    wait(browser, lambda d: lang_of(d) == "zh-CN")
    assert tid(browser, "login").text == ZH["login.button"]


def _number_cases() -> list[tuple[str, str]]:
    def with_check(first17: str) -> str:
        return first17 + resident_id_check_char(first17)
    wrong = RESIDENT_ID[:-1] + ("0" if RESIDENT_ID[-1] != "0" else "1")
    return [
        ("cn_resident", RESIDENT_ID), ("cn_resident", RESIDENT_ID.lower()), ("cn_resident", " 1101 0519 4912 3100 2X "),
        ("cn_resident", "１１０１０５１９４９１２３１００２Ｘ"), ("cn_resident", wrong),
        ("cn_resident", "110105491231002"),
        ("cn_resident", RESIDENT_ID[:17]), ("cn_resident", "11010519491231002Y"), ("cn_resident", ""),
        ("cn_resident", "11010519491231002X1"), ("cn_resident", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"),
        ("cn_resident", with_check("81000019900101123")), ("cn_resident", with_check("71000019900101123")),
        ("cn_resident", with_check("99999919900101123")),
        ("hk_macau_taiwan", with_check("81000019900101123")), ("hk_macau_taiwan", with_check("11010519900101123")),
        ("hk_macau_taiwan", with_check("83000019900101123")[:-1] + "0"),
        ("hk_macau_taiwan", "H12345678"), ("hk_macau_taiwan", "M1234567801"), ("hk_macau_taiwan", "H1234567"),
        ("hk_macau_taiwan", "12345678"), ("hk_macau_taiwan", "1234567"), ("hk_macau_taiwan", "")]


def test_the_page_checks_id_numbers_with_the_services_rules_codes_and_texts(browser, live):
    """Where the page refuses a number, the service refuses it with the same code
    and (in English) the same text; where the page lets it pass, the service's
    refusal, if any, is one of the checks the page leaves to it (region table,
    birth date, age, expiry)."""
    browser.get(live.url + "/")
    wait(browser, lambda d: d.execute_script("return !!(window.Simreg && window.Simreg.idcheck)"))
    for id_type, number in _number_cases():
        page = browser.execute_script("""
            const r = Simreg.idcheck.checkIdNumber(arguments[0], arguments[1]);
            if (!r) return null;
            const text = SIMREG_MESSAGES.en[r.key].replace(/\\{(\\w+)\\}/g, (m, k) => (r.params || {})[k]);
            return [r.code, text];""", id_type, number)
        try:
            kind = document_kind(id_type, number or None)
            validate_document(kind, number or None, today=date.today(), name="王芳",
                              expiry="long_term" if kind.value == "cn_resident_id" else "2099-12-31",
                              birth_date=date(1990, 1, 1) if "travel" in kind.value else None)
            server = None
        except IdDocumentError as exc:
            server = [exc.code.value, exc.message]
        if page is not None:
            assert server == page, (id_type, number)
        else:
            assert server is None or server[0] not in ("ID.FORMAT", "ID.CHECKSUM", "ID.LEGACY_15_DIGIT"), \
                (id_type, number, server)


def test_a_clerk_registers_a_customer_from_login_to_the_recorded_outcome(browser, live, portrait_file, e2e_tmp):
    svc = live.svc
    open_and_log_in(browser, f"{live.url}/?challenge={','.join(CAMERA_CHALLENGE)}", svc.tokens[Role.CLERK])
    who = tid(browser, "who").text
    assert "clerk one" in who and "Counter 7" in who and ZH["role.clerk"] in who
    assert browser.execute_script("return sessionStorage.getItem('simreg.token')") == svc.tokens[Role.CLERK]
    assert browser.execute_script("return localStorage.getItem('simreg.token')") is None

    # the ID number is checked on blur, in the clerk's language, like the service
    field = tid(browser, "id-number")
    field.send_keys(RESIDENT_ID[:-1] + "3", Keys.TAB)
    wait(browser, lambda d: tid(d, "id-number-error").text)
    assert tid(browser, "id-number-error").text == ZH["id.checksum"]
    assert tid(browser, "id-number-error").get_attribute("data-code") == "ID.CHECKSUM"
    assert field.get_attribute("aria-invalid") == "true"
    tid(browser, "lang").click()
    wait(browser, lambda d: tid(d, "id-number-error").text == "check character does not match (typing error?)")
    tid(browser, "lang").click()
    wait(browser, lambda d: lang_of(d) == "zh-CN")
    field.clear()
    field.send_keys(RESIDENT_ID, Keys.TAB)
    wait(browser, lambda d: tid(d, "id-number-error").text == "")
    assert field.get_attribute("aria-invalid") is None

    # starting without a consent or a portrait is refused in the page, naming the fields
    tid(browser, "name").send_keys("王芳")
    tid(browser, "long-term").click()
    tid(browser, "start").click()
    wait(browser, lambda d: d.find_element(By.ID, "consent-error").text == ZH["field.consent"])
    assert browser.find_element(By.ID, "portrait-error").text == ZH["field.portrait"]
    assert not tid(browser, "outcome").get_attribute("data-outcome")

    tid(browser, "portrait").send_keys(str(portrait_file))
    tid(browser, "consent").click()
    consent_text = tid(browser, "consent-text").text
    assert ZH["consent.p1"][:20] in consent_text
    # every prompt the page shows, in order
    browser.execute_script("""
        window.__prompts = [];
        new MutationObserver(() => { const p = document.querySelector('[data-testid=prompt]');
            if (p.textContent) window.__prompts.push([p.textContent, p.getAttribute('data-action')]); })
          .observe(document.querySelector('[data-testid=prompt]'),
                   {childList: true, characterData: true, subtree: true});
        window.__flashes = [];
        new MutationObserver(() => { const f = document.querySelector('[data-testid=flash]');
            if (!f.hidden && f.style.backgroundColor) window.__flashes.push(f.style.backgroundColor); })
          .observe(document.querySelector('[data-testid=flash]'), {attributes: true});""")

    started = time.monotonic()
    tid(browser, "start").click()
    wait(browser, outcome_or_error, timeout=180, message="no outcome on the page")
    elapsed = time.monotonic() - started
    if outcome_or_error(browser) == "error":
        pytest.fail(f"the page shows an error: {tid(browser, 'error').get_attribute('data-code')}: "
                    f"{tid(browser, 'error').text}")

    box = tid(browser, "outcome")
    outcome, reg_id = box.get_attribute("data-outcome"), box.get_attribute("data-registration-id")
    assert outcome in ("approved", "rejected", "review") and reg_id.startswith("reg_")
    # the outcome as the database recorded it, in plain words
    view = svc.rt.registry.registration(reg_id)
    assert view is not None and view["outcome"] == outcome and view["clerk_id"] == svc.access.clerk_for_token(
        svc.tokens[Role.CLERK]).clerk_id
    assert tid(browser, "outcome-title").text == ZH[f"outcome.{outcome}"]
    shown = [li.text for li in tid(browser, "outcome-reasons").find_elements(By.TAG_NAME, "li")]
    assert shown == [ZH.get(f"reason.{c}") for c in view["reasons"]]
    steps = [li.get_attribute("data-step") for li in tid(browser, "outcome-next").find_elements(By.TAG_NAME, "li")]
    assert steps and all(ZH[s] for s in steps)
    if outcome == "approved":
        assert view["phone_number"] in box.text
    if outcome == "review":
        assert steps[0] == "next.supervisor"
    # the prompts came one at a time, in the challenge's order, with their icons
    actions = [a for _, a in browser.execute_script("return window.__prompts") if a]
    assert [a for i, a in enumerate(actions) if i == 0 or actions[i - 1] != a] == CAMERA_CHALLENGE
    assert "vp9" in tid(browser, "preview").get_attribute("data-recording-mime")
    # the window flashed the session's colours, in order, and the service measured the face's response
    with svc.rt.database.connect() as c:
        row = c.execute(select(registrations.c.scores, capture_sessions.c.nonce).join(
            capture_sessions, capture_sessions.c.session_id == registrations.c.session_id)
            .where(registrations.c.registration_id == reg_id)).one()
    shown = [s for i, s in enumerate(browser.execute_script("return window.__flashes"))
             if i == 0 or browser.execute_script("return window.__flashes")[i - 1] != s]
    expected = ["rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (1, 3, 5)))
                for h in flash_plan(row.nonce).hex()]
    assert shown == expected
    # the fake camera's picture never saw that light: a low response (report-only, so no outcome depends on it)
    flash_score = json.loads(row.scores)["pad"]["flash"]
    assert flash_score is not None and flash_score < 0.5
    # the consent went with it: the version of the text shown, and when it was accepted
    with svc.rt.database.connect() as c:
        row = c.execute(select(consents.c.text_version, consents.c.accepted_at)
                        .where(consents.c.registration_id == reg_id)).one()
    assert row.text_version == ZH["consent.version_id"] and row.accepted_at is not None
    # the outcome follows the language switch
    tid(browser, "lang").click()
    wait(browser, lambda d: tid(d, "outcome-title").text == EN[f"outcome.{outcome}"])
    tid(browser, "lang").click()
    wait(browser, lambda d: lang_of(d) == "zh-CN")

    report = {"outcome": outcome, "reasons": view["reasons"], "start_to_outcome_s": round(elapsed, 1),
              "challenge": CAMERA_CHALLENGE, "scores": view["scores"]}
    print("\ncounter e2e:", json.dumps(report, ensure_ascii=False))
    if os.environ.get("SIMREG_E2E_REPORT"):
        Path(os.environ["SIMREG_E2E_REPORT"]).write_text(json.dumps(report, indent=1, ensure_ascii=False))


def test_logging_out_empties_the_tabs_storage(browser, live):
    assert browser.execute_script("return sessionStorage.length") > 0
    log_out(browser)
    assert browser.execute_script("return sessionStorage.length") == 0
    assert not tid(browser, "who").is_displayed() and not tid(browser, "id-number").is_displayed()
    browser.refresh()  # nothing left to log in with
    wait(browser, lambda d: tid(d, "token").is_displayed())
    assert not tid(browser, "who").is_displayed()


def _seed_review(svc) -> str:
    """A registration awaiting review, as the pipeline records one (independent of the face engine)."""
    from simreg.adapters.sql.registry import ConsentData, PersonData, Stamp
    from simreg.domain.reasons import Outcome

    clerk = svc.access.clerk_for_token(svc.tokens[Role.CLERK])
    now = datetime.now(UTC)
    rec = svc.rt.registry.record_decision(DecisionRecord(
        now=now, clerk=clerk, path="face", session_id=None, session_checked_at=None,
        person=PersonData("cn_resident_id|" + SEEDED_ID, "cn_resident_id", "CN", "李雷"), outcome=Outcome.REVIEW,
        reasons=("MATCH.GREY_ZONE",), phone=None, quota_limit=5,
        scores={"match": {"score": 2.41, "threshold": 2.72, "review_threshold": 2.24, "target_fmr": 0.001},
                "liveness": {"passed": True, "face_fraction": 0.98}, "pad": {"screen": 0.12}},
        consent=ConsentData("face-verification", "face-consent-v3.zh-CN", now, 30),
        stamp=Stamp(tuple(svc.rt.engine.model_ids), svc.rt.policy.sha256), idempotency_key=None))
    return rec.registration_id


def test_a_supervisor_decides_the_review_queue_on_the_dashboard(browser, live, e2e_tmp):
    svc = live.svc
    seeded = _seed_review(svc)
    open_and_log_in(browser, live.url + "/dashboard", svc.tokens[Role.SUPERVISOR])
    queue = tid(browser, "review-queue")
    wait(browser, lambda d: queue.find_elements(By.CSS_SELECTOR, f'li[data-registration-id="{seeded}"]'))
    api = svc.client.get("/v1/reviews", headers=svc.auth(Role.SUPERVISOR)).json()
    shown = [li.get_attribute("data-registration-id")
             for li in queue.find_elements(By.CSS_SELECTOR, ":scope > li[data-registration-id]")]
    assert shown == [r["registration_id"] for r in api]
    assert ZH["dash.privacy"] in tid(browser, "privacy-note").text
    item = queue.find_element(By.CSS_SELECTOR, f'li[data-registration-id="{seeded}"]')
    assert ZH["reason.MATCH.GREY_ZONE"] in item.text and "2.41" in item.text and "2.72" in item.text
    # a decision needs a stated reason
    item.find_element(By.CSS_SELECTOR, '[data-testid="review-approve"]').click()
    wait(browser, lambda d: item.find_element(By.CSS_SELECTOR, '[data-testid="review-message"]').text
         == ZH["dash.reason.short"])
    assert svc.rt.registry.registration(seeded)["outcome"] == "review"
    item.find_element(By.CSS_SELECTOR, '[data-testid="review-reason"]').send_keys("与实体证件核对：本人，照片较旧")
    item.find_element(By.CSS_SELECTOR, '[data-testid="review-approve"]').click()
    wait(browser, lambda d: item.get_attribute("data-decided") == "approved")
    assert svc.rt.registry.registration(seeded)["outcome"] == "approved"
    log_out(browser)


def test_an_auditor_reads_the_outlet_report_outcomes_per_day_and_the_audit_head(browser, live):
    svc = live.svc
    open_and_log_in(browser, live.url + "/dashboard", svc.tokens[Role.AUDITOR])
    report = tid(browser, "outlet-report")
    wait(browser, lambda d: report.find_elements(By.CSS_SELECTOR, f'tr[data-outlet-id="{svc.outlet_id}"]'))
    row = report.find_element(By.CSS_SELECTOR, f'tr[data-outlet-id="{svc.outlet_id}"]')
    api = {o["outlet_id"]: o for o in svc.client.get("/v1/reports/outlets", headers=svc.auth(Role.AUDITOR)).json()}
    assert row.find_element(By.TAG_NAME, "th").text == "Counter 7"
    assert row.find_elements(By.TAG_NAME, "td")[0].text == str(api[svc.outlet_id]["registrations"])
    assert row.get_attribute("data-flags") == ",".join(api[svc.outlet_id]["flags"])
    wait(browser, lambda d: tid(d, "audit-root").text not in ("", "…"))
    status = svc.client.get("/status").json()
    size = int(tid(browser, "audit-size").text)
    assert size == status["audit"]["entries"]
    proof = svc.client.get(f"/v1/audit/proof/{size - 1}?size={size}", headers=svc.auth(Role.AUDITOR)).json()
    assert tid(browser, "audit-root").text == proof["root_hash"]
    bars = browser.find_elements(By.CSS_SELECTOR, '[data-testid="chart-svg"] rect[data-outcome]')
    today = browser.execute_script("const d = new Date(); return d.getFullYear() + '-' + "
                                   "String(d.getMonth() + 1).padStart(2, '0') + '-' + "
                                   "String(d.getDate()).padStart(2, '0')")
    assert sum(int(b.get_attribute("data-count")) for b in bars if b.get_attribute("data-day") == today) \
        == api[svc.outlet_id]["registrations"]
    log_out(browser)


def test_no_request_left_the_origin(browser, live):
    """Every request that reached the network went to the page's own origin (the
    browser's internal chrome:// pages, blob: and data: URLs never leave it)."""
    urls = browser.requests_seen.drain()
    assert any(u.startswith(live.url + "/static/") for u in urls)
    network = [u for u in urls if urlsplit(u).scheme not in ("blob", "data", "about")
               and not urlsplit(u).scheme.startswith("chrome")]
    assert network and all(u.startswith(("http:", "https:", "ws:", "wss:")) for u in network), network
    foreign = [u for u in network if f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" != live.url]
    assert foreign == []
