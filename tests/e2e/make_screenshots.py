"""Regenerates the README's screenshots of the counter (docs/img/counter-*.png):

    .venv/bin/python tests/e2e/make_screenshots.py [--out docs/img]

The service runs without models (tests/fake_engine.py) on a fresh SQLite file,
with registrations seeded as the pipeline records them; the camera is
chromium's own synthetic test pattern, so no face from the shared data set ends
up in the repository.  The capture page is shot while the first prompt is on
screen, in Chinese; the dashboard as a supervisor (the review queue) and as an
auditor (the outlet report, outcomes per day, the audit log)."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from browser_support import new_driver, start_live_server, stop_live_server  # noqa: E402
from PIL import Image  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from fake_engine import fake_runtime  # noqa: E402
from service_support import RESIDENT_ID, make_service  # noqa: E402
from simreg.adapters.sql.registry import ConsentData, PersonData, Stamp  # noqa: E402
from simreg.domain.access import Role  # noqa: E402
from simreg.domain.id_document import resident_id_check_char  # noqa: E402
from simreg.domain.reasons import Outcome  # noqa: E402
from simreg.domain.records import DecisionRecord  # noqa: E402


def seed(svc) -> None:
    clerk = svc.access.clerk_for_token(svc.tokens[Role.CLERK])
    stamp = Stamp(tuple(svc.rt.engine.model_ids), svc.rt.policy.sha256)
    now = datetime.now(UTC)
    plan = [(Outcome.APPROVED, ()), (Outcome.APPROVED, ()), (Outcome.REJECTED, ("LIVENESS.NO_BLINK",)),
            (Outcome.REVIEW, ("MATCH.GREY_ZONE",)), (Outcome.APPROVED, ()), (Outcome.REJECTED, ("LIVENESS.ORDER",)),
            (Outcome.REVIEW, ("MATCH.BELOW_THRESHOLD", "QUALITY.BLUR"))]
    for i, (outcome, reasons) in enumerate(plan):
        first17 = f"110105199001{i + 1:02d}12{i % 10}"
        scores = {"match": {"score": 3.9 - 0.6 * i, "threshold": 2.72, "review_threshold": 2.24, "target_fmr": 0.001},
                  "liveness": {"passed": outcome is not Outcome.REJECTED, "face_fraction": 0.97},
                  "pad": {"planarity": 0.21, "screen_moire": 1.8}}
        svc.rt.registry.record_decision(DecisionRecord(
            now=now - timedelta(days=(len(plan) - i) // 2), clerk=clerk, path="face", session_id=None,
            session_checked_at=None, person=PersonData("cn_resident_id|" + first17 + resident_id_check_char(first17),
                                                       "cn_resident_id", "CN", "王芳"),
            outcome=outcome, reasons=reasons, scores=scores, phone=None, quota_limit=5,
            consent=ConsentData("face-verification", "face-consent-v3.zh-CN", now, 30), stamp=stamp,
            idempotency_key=None))


def portrait(path: Path) -> Path:
    Image.new("RGB", (102, 126), (200, 200, 200)).save(path, "JPEG")
    return path


def shoot(driver, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(height + 140, 2400))
    time.sleep(0.3)
    png = driver.get_screenshot_as_png()
    Image.open(io.BytesIO(png)).convert("RGB").save(path.with_suffix(".png"), optimize=True)
    driver.set_window_size(1280, 1000)
    print("wrote", path)


def login(driver, url: str, token: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "token").is_displayed())
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "who").is_displayed())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "img")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="simreg-shots-"))
    svc = make_service(fake_runtime(), f"sqlite:///{tmp / 'shots.sqlite3'}", env="development")
    svc.add_numbers([f"+86138001380{i:02d}" for i in range(20)])
    seed(svc)
    live = start_live_server(svc)
    driver = new_driver(None, tmp)  # chromium's synthetic camera
    try:
        driver.set_window_size(1280, 1000)
        login(driver, live.url + "/?challenge=turn_left,blink,turn_right", svc.tokens[Role.CLERK])
        driver.find_element(By.ID, "id-number").send_keys(RESIDENT_ID)
        driver.find_element(By.ID, "name").send_keys("王芳")
        driver.find_element(By.ID, "long-term").click()
        driver.find_element(By.ID, "portrait").send_keys(str(portrait(tmp / "portrait.jpg")))
        driver.find_element(By.ID, "consent").click()
        driver.find_element(By.ID, "start").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "prompt").get_attribute("data-action"))
        time.sleep(0.5)
        shoot(driver, args.out / "counter-capture")
        driver.find_element(By.ID, "logout").click()
        login(driver, live.url + "/dashboard", svc.tokens[Role.SUPERVISOR])
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#review-queue > li"))
        shoot(driver, args.out / "counter-dashboard-supervisor")
        driver.find_element(By.ID, "logout").click()
        login(driver, live.url + "/dashboard", svc.tokens[Role.AUDITOR])
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg rect[data-outcome]"))
        shoot(driver, args.out / "counter-dashboard-auditor")
    finally:
        driver.quit()
        stop_live_server(live)
        svc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
