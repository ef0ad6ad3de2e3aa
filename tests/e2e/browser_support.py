"""The browser tests' support: Debian's chromium and chromedriver (headless,
a fresh profile, a y4m file built from a shared video as the camera), and the
service on a real socket (uvicorn in a thread of the test process, sharing the
test session's face engine, SQLite, development mode so the page may name the
challenge the video performs).

Without the browser the tests skip with the one line that installs it, and
fail under CI=true, like the data tests."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

STATIC_DIR = Path(__file__).resolve().parents[2] / "src" / "simreg" / "http" / "static"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver fonts-wqy-microhei (scripts/install.sh does it when run as root)"

# The camera: pad_tranvanluyt_real.mp4 (a bona fide phone selfie; events.json:
# he turns to his own left 1.9-5.9 s and to his right 7.5-10.5 s), letterboxed
# into 640x480 at 30 fps, its time re-mapped so that the turns fall inside the
# page's prompt windows.  The fake camera starts the file when the page opens
# it; the page then counts down 2 s and records with a 1 s lead-in and 3 s per
# prompt, so recording time r is about file time f - 2.2 s: prompts at f ~ 3.2
# (turn_left) and 6.2 (turn_right), the recording ends at f ~ 10.2.
CAMERA_VIDEO = "pad_tranvanluyt_real.mp4"
CAMERA_CHALLENGE = ["turn_left", "turn_right"]
CAMERA_SECONDS = 12.0
FPS = 30
W, H = 640, 480


def camera_source_time(f: float) -> float:
    """The source video's time shown at camera-file time ``f`` (seconds):
    0-2.1 s still face (the first second played forward and back), 2.1-4.0 s
    the source's first 1.9 s, then the turns at 1.59x (turn left from f ~ 4.0,
    turn right from f ~ 7.5, back by f ~ 9.4), then a still face again."""
    if f < 2.1:
        return f if f < 1.05 else 2.1 - f
    if f < 4.0:
        return f - 2.1
    speed, end = 1.59, 11.5
    g = 1.9 + (f - 4.0) * speed
    if g <= end:
        return g
    u = ((f - (4.0 + (end - 1.9) / speed)) % 1.8)
    return end - u if u < 0.9 else end - 0.9 + (u - 0.9)


def build_camera_y4m(source: Path, out: Path) -> Path:
    """A 640x480 30 fps y4m (4:2:0) for --use-file-for-fake-video-capture, built
    with PyAV from ``source`` (portrait video letterboxed on mid-grey)."""
    import av

    with av.open(str(source)) as c:
        stream = c.streams.video[0]
        rate = float(stream.average_rate)
        sw = int(round(H * stream.width / stream.height / 2) * 2)  # keep the aspect ratio, even width
        frames = []
        for frame in c.decode(stream):
            if frame.time is not None and frame.time > 12.5:
                break
            yuv = frame.reformat(width=sw, height=H, format="yuv420p")
            frames.append([np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:, :w].copy()
                           for p, w in zip(yuv.planes, (sw, sw // 2, sw // 2), strict=False)])
    x0 = ((W - sw) // 2) // 2 * 2
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F{FPS}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".encode())
        canvas = [np.full((H, W), 128, np.uint8), np.full((H // 2, W // 2), 128, np.uint8),
                  np.full((H // 2, W // 2), 128, np.uint8)]
        for k in range(int(CAMERA_SECONDS * FPS)):
            src = frames[min(len(frames) - 1, round(camera_source_time(k / FPS) * rate))]
            canvas[0][:, x0:x0 + sw] = src[0]
            canvas[1][:, x0 // 2:x0 // 2 + sw // 2] = src[1]
            canvas[2][:, x0 // 2:x0 // 2 + sw // 2] = src[2]
            f.write(b"FRAME\n")
            for plane in canvas:
                f.write(plane.tobytes())
    return out


def browser_or_skip() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    msg = f"no browser for the e2e tests ({CHROMIUM}, {CHROMEDRIVER}); install it with: {INSTALL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + "; under CI=true the browser tests must run")
    pytest.skip(msg)


def new_driver(camera: Path | None, download_dir: Path):
    """Headless chromium through chromedriver, both Debian's; a fresh profile;
    the y4m (when given) as the camera, permission granted; the network log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a browser online
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
                 "--disable-dev-shm-usage", "--window-size=1280,1600", "--lang=zh-CN",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    if camera is not None:
        opts.add_argument(f"--use-file-for-fake-video-capture={camera}")
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='simreg-chromium-', dir=download_dir)}")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(options=opts, service=DriverService(str(CHROMEDRIVER)))


@dataclass
class LiveServer:
    url: str
    svc: object          # service_support.Service
    server: object       # uvicorn.Server
    thread: threading.Thread


def start_live_server(svc) -> LiveServer:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(svc.client.app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", svc, server, thread)


def stop_live_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=15)


def message_table(lang: str) -> dict[str, str]:
    """A page message file's table (the object literal after the assignment is strict JSON)."""
    text = (STATIC_DIR / f"messages-{lang}.js").read_text(encoding="utf-8")
    head = f'window.SIMREG_MESSAGES["{lang}"] = '
    return json.loads(text[text.index(head) + len(head):].strip().rstrip(";"))
