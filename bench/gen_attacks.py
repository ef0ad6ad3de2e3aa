"""Generate presentation attacks from the shared photos and videos, the way an attacker would.

    python bench/gen_attacks.py --out /tmp/simreg-attacks [--seed 7] [--per-kind 8]

Nothing here is committed but this script: the clips (a few MB) are made at
bench or test time into ``--out``, with a ``manifest.json`` in the layout of
``../shared/data/spoof/simulated/manifest.json`` (``imitates`` gives the actions
each attack performs, with times), so that ``simreg eval liveness --attacks DIR``
and ``bench/pad_fusion.py`` read them like the shared ones.  The code is our own,
written without looking at how the shared simulated attacks were made; it stands
for "other code" only as far as that goes.

Kinds (640x480, 25-30 fps, H.264, camera noise, a synthetic room behind):

* **print**: a photo of ``faces/`` printed on a sheet (paper tone, compressed
  dynamic range, slight blur, white margin unless the sheet fills the view),
  held by a shaking hand; half of them turned about the vertical axis to imitate
  a head turn (perspective of a flat sheet, up to 35 degrees).
* **cutout**: the same, with eye holes; behind them the attacker's own eyes,
  taken from a bona fide clip of another person around one of its blinks and
  moved with the sheet.  Imitates a blink (and a turn when the sheet turns).
* **replay**: a bona fide clip of ``videos/`` with the actions labelled in
  ``events.json``, shown on a phone or a monitor (bezel, black-level lift, blue
  cast, pixel-grid moire, a glare that stays on the glass) and re-filmed with a
  shaking hand.  Imitates the clip's own actions.

A reenactment app's output injected as the camera is not generated: the shared
bona fide clips are themselves generated talking heads (LivePortrait, SadTalker,
video-retalking), so no signal here could be measured telling them apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir

W, H = 640, 480


def room(rng: np.random.Generator) -> np.ndarray:
    """A blurred synthetic room: a wall of smooth noise, a few pieces of furniture, a floor."""
    base = rng.uniform(60, 200, 3)
    noise = cv2.resize(rng.normal(0, 18, (12, 16)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    img = np.clip(base + noise[..., None] + rng.normal(0, 4, (H, W, 1)), 0, 255).astype(np.float32)
    for _ in range(rng.integers(1, 4)):
        x, y = int(rng.integers(0, W - 80)), int(rng.integers(0, H - 80))
        w, h = int(rng.integers(60, 220)), int(rng.integers(60, 200))
        img[y:y + h, x:x + w] = rng.uniform(40, 240, 3)
    img[int(H * rng.uniform(0.75, 0.9)):] *= rng.uniform(0.5, 0.8)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(2, 5))


def camera(frame: np.ndarray, rng: np.random.Generator, blur: float) -> np.ndarray:
    """What a counter webcam makes of the scene: blur, sensor noise, 8 bits."""
    out = cv2.GaussianBlur(frame, (0, 0), blur) if blur > 0 else frame
    out = out + rng.normal(0, 2.5, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def sheet_quad(w: float, h: float, cx: float, cy: float, yaw_deg: float, roll_deg: float,
               f: float = 700.0) -> np.ndarray:
    """Image corners of a flat w x h sheet centred at (cx, cy), turned by ``yaw_deg``
    about its vertical axis (pinhole camera of focal ``f`` px, sheet at depth f)."""
    a, r = np.radians(yaw_deg), np.radians(roll_deg)
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    corners = corners @ rot.T
    x, y = corners[:, 0], corners[:, 1]
    X, Z = x * np.cos(a), f + x * np.sin(a)
    return np.stack([cx + f * X / Z, cy + f * y / Z], axis=1).astype(np.float32)


def paste(scene: np.ndarray, content: np.ndarray, quad: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """Warp ``content`` onto ``quad`` of ``scene`` (float images)."""
    h, w = content.shape[:2]
    M = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), quad)
    warped = cv2.warpPerspective(content, M, (W, H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32) if alpha is None else alpha, M, (W, H))[..., None]
    return scene * (1 - mask) + warped * mask


def hand_path(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    """A shaking hand: a smoothed random walk, (n, 3) for x, y and roll."""
    steps = rng.normal(0, 1, (n, 3)).cumsum(axis=0)
    steps = cv2.GaussianBlur(steps.astype(np.float32), (1, 0), 3).reshape(n, 3) if n > 1 else steps
    steps -= steps.mean(axis=0)
    scale = np.array([amp, amp, amp / 6]) / max(np.abs(steps).max(), 1e-6)
    return steps * scale


def turn_profile(n: int, fps: float, start: float, end: float, peak: float) -> np.ndarray:
    """Yaw per frame: 0, a smooth turn to ``peak`` between ``start`` and ``end`` seconds, held a moment, back."""
    t = np.arange(n) / fps
    mid = (start + end) / 2
    up = np.clip((t - start) / max(mid - start, 1e-3), 0, 1)
    down = np.clip((end - t) / max(end - mid, 1e-3), 0, 1)
    return peak * np.sin(np.pi / 2 * np.minimum(up, down)) ** 2


def printed(photo: np.ndarray, rng: np.random.Generator, margin: bool) -> np.ndarray:
    """A photo as printed on paper: warm paper tone, compressed range, slight blur, white margin."""
    p = photo.astype(np.float32)
    p = 255 * (p / 255) ** rng.uniform(1.0, 1.3)
    p = 22 + p * rng.uniform(0.78, 0.88)
    p *= np.array([1.0, 0.98, rng.uniform(0.88, 0.95)])
    p = cv2.GaussianBlur(p, (0, 0), rng.uniform(0.5, 1.1))
    if margin:
        m = int(0.06 * max(p.shape[:2]))
        p = cv2.copyMakeBorder(p, m, m, m, m, cv2.BORDER_CONSTANT, value=(238, 236, 226))
    return p


def load_rgb(path: Path, max_side: int = 700) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    f = min(1.0, max_side / max(img.shape[:2]))
    img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else img
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_clip(path: Path, start: float, seconds: float) -> tuple[list[np.ndarray], float]:
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        fps = float(st.average_rate or 25)
        frames = []
        for fr in c.decode(video=0):
            t = float(fr.time or 0.0)
            if t < start:
                continue
            if t >= start + seconds:
                break
            frames.append(fr.to_ndarray(format="rgb24"))
    return frames, fps


class Eyes:
    """Eye centres from YuNet's keypoints (the attacker's tools would use any detector)."""

    def __init__(self):
        from simreg.adapters.faces.opencv_zoo import YunetDetector

        self.det = YunetDetector()

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        boxes = self.det.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not boxes or boxes[0].keypoints is None:
            return None
        kp = np.array(boxes[0].keypoints[:2], np.float32)
        a, b = sorted(kp, key=lambda p: p[0])  # image-left eye first
        return a, b


def eye_patch_source(video: Path, blink_t: float, seconds: float, eyes: Eyes):
    """Frames of a bona fide clip around one blink, and the eyes' positions in each."""
    start = max(0.0, blink_t - seconds / 2)
    frames, fps = read_clip(video, start, seconds)
    found = [eyes(f) for f in frames]
    last = next((e for e in found if e is not None), None)
    out = []
    for f, e in zip(frames, found, strict=False):
        last = e or last
        out.append((f, last))
    return out, fps, blink_t - start


def with_eyes(sheet_photo: np.ndarray, photo_eyes, src_frame: np.ndarray, src_eyes) -> np.ndarray:
    """The photo with elliptic eye holes, the source frame's eyes showing through them."""
    (pa, pb), (sa, sb) = photo_eyes, src_eyes
    iod_p, iod_s = np.linalg.norm(pb - pa), np.linalg.norm(sb - sa)
    s = iod_p / max(iod_s, 1e-6)
    ang = np.arctan2(*(pb - pa)[::-1]) - np.arctan2(*(sb - sa)[::-1])
    M = cv2.getRotationMatrix2D((float(sa[0]), float(sa[1])), -np.degrees(ang), s)
    M[:, 2] += pa - sa
    behind = cv2.warpAffine(src_frame.astype(np.float32), M, sheet_photo.shape[1::-1])
    hole = np.zeros(sheet_photo.shape[:2], np.float32)
    for c in (pa, pb):
        cv2.ellipse(hole, (int(c[0]), int(c[1])), (int(0.26 * iod_p), int(0.13 * iod_p)), 0, 0, 360, 1.0, -1)
    rim = cv2.dilate(hole, np.ones((3, 3), np.uint8)) - hole  # the cut edge: a thin dark line
    hole = cv2.GaussianBlur(hole, (0, 0), 0.8)[..., None]
    out = sheet_photo * (1 - hole) + behind * hole
    return out * (1 - 0.5 * rim[..., None])


def make_print(rng, photo_path: Path, fps: int, seconds: float, turn: str | None, eyes_src=None, photo_eyes=None,
               fill: float = 0.25):
    photo = load_rgb(photo_path)
    fills = rng.random() < fill
    n = int(fps * seconds)
    bg = room(rng)
    path = hand_path(rng, n, amp=rng.uniform(4, 14))
    sheet_h = rng.uniform(300, 380) if not fills else rng.uniform(560, 700)
    peak = rng.uniform(22, 35)
    t0 = rng.uniform(0.6, 1.4)
    sign = {"turn_left": 1.0, "turn_right": -1.0}.get(turn or "", 0.0)  # subject's left = image right (unmirrored)
    yaw = sign * turn_profile(n, fps, t0, t0 + rng.uniform(1.4, 2.2), peak)
    blur = rng.uniform(0.4, 1.0)
    frames = []
    gain = 1 + 0.04 * np.sin(np.linspace(0, rng.uniform(2, 6), n))
    paper = int(rng.integers(1 << 30))  # one print per clip: the same paper and ink in every frame
    for i in range(n):
        content = photo.astype(np.float32)
        if eyes_src is not None:
            src, src_fps = eyes_src
            f, e = src[min(int(i * src_fps / fps), len(src) - 1)]
            if e is not None:
                content = with_eyes(content, photo_eyes, f, e)
        sheet = printed(content, np.random.default_rng(paper), margin=not fills)
        h, w = sheet.shape[:2]
        s = sheet_h / h
        quad = sheet_quad(w * s, h * s, W / 2 + path[i, 0], H / 2 + path[i, 1] - (0 if fills else 10),
                          yaw[i], path[i, 2])
        shade = np.linspace(1 - 0.08 * rng.random(), 1.0, w, dtype=np.float32)[None, :, None]
        scene = paste(bg.copy(), sheet * shade, quad) * gain[i]
        frames.append(camera(scene, rng, blur))
    return frames


def make_replay(rng, video: Path, start: float, seconds: float, fps_out: int, fill: float = 0.0):
    src, fps = read_clip(video, start, seconds)
    phone = rng.random() < 0.5
    fills = rng.random() < fill  # held so close that the screen fills the view: no bezel in sight
    n = int(fps_out * min(seconds, len(src) / fps))
    bg = room(rng)
    path = hand_path(rng, n, amp=rng.uniform(3, 10) if phone else rng.uniform(1, 4))
    sh, sw = src[0].shape[:2]
    if fills:
        screen_w = rng.uniform(720, 820)
        screen_h = screen_w * 0.75
    elif phone:
        screen_h = rng.uniform(380, 460)
        screen_w = screen_h * min(0.62, sw / sh)
    else:
        screen_w = rng.uniform(520, 620)
        screen_h = screen_w * 0.62
    period = rng.uniform(2.6, 4.5)
    ang = np.radians(rng.uniform(-20, 20))
    yy, xx = np.mgrid[0:int(screen_h), 0:int(screen_w)].astype(np.float32)
    phase = 2 * np.pi * (xx * np.cos(ang) + yy * np.sin(ang)) / period
    grid = 1 - rng.uniform(0.06, 0.14) * (0.5 + 0.5 * np.sin(phase))
    gy, gx = rng.uniform(0.1, 0.5) * screen_h, rng.uniform(0.2, 0.8) * screen_w
    glare = rng.uniform(40, 90) * np.exp(-(((xx - gx) / (0.25 * screen_w)) ** 2 + ((yy - gy) / (0.12 * screen_h)) ** 2))
    lift, cast = rng.uniform(14, 34), np.array([0.92, 0.97, 1.06])
    bezel = int(rng.uniform(10, 24))
    tilt = rng.uniform(-12, 12)
    blur = rng.uniform(0.5, 1.2)
    frames = []
    for i in range(n):
        f = src[min(int(i * fps / fps_out), len(src) - 1)].astype(np.float32)
        fit = min(screen_w / sw, screen_h / sh) * (1.0 if phone else 0.9)
        scale = max(screen_w / sw, screen_h / sh) if fills else fit  # filling: the picture covers the glass
        f = cv2.resize(f, (int(sw * scale), int(sh * scale)), interpolation=cv2.INTER_AREA)
        disp = np.zeros((int(screen_h), int(screen_w), 3), np.float32)
        if fills:  # centre crop to the glass
            cy, cx = (f.shape[0] - disp.shape[0]) // 2, (f.shape[1] - disp.shape[1]) // 2
            f = f[cy:cy + disp.shape[0], cx:cx + disp.shape[1]]
        y0, x0 = (disp.shape[0] - f.shape[0]) // 2, (disp.shape[1] - f.shape[1]) // 2
        disp[y0:y0 + f.shape[0], x0:x0 + f.shape[1]] = f
        disp = (lift + disp * (1 - lift / 255)) * cast * grid[..., None] + glare[..., None]
        if not fills:
            disp = cv2.copyMakeBorder(disp, bezel, bezel, bezel, bezel, cv2.BORDER_CONSTANT, value=(18, 18, 20))
        h, w = disp.shape[:2]
        quad = sheet_quad(w, h, W / 2 + path[i, 0], H / 2 + path[i, 1], tilt, path[i, 2])
        frames.append(camera(paste(bg.copy(), disp, quad), rng, blur))
    return frames


PHOTOS = ("deepface_", "fr_", "openface_", "lfw_")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--fill", type=float, default=None,
                    help="probability that a sheet or a screen fills the view (default: prints 0.25, replays 0)")
    args = ap.parse_args()
    from simreg.adapters.video import encode_h264

    d = data_dir()
    rng = np.random.default_rng(args.seed)
    print_fill = 0.25 if args.fill is None else args.fill
    replay_fill = 0.0 if args.fill is None else args.fill
    events = json.loads((d / "videos" / "events.json").read_text(encoding="utf-8"))
    bona = [e for e in events if e.get("verified_by_eye") and e.get("single_face") and e.get("bona_fide", True)]
    blinkers = [e for e in bona if e["blinks"]]
    photos = sorted(p for p in (d / "faces").glob("*/*.jpg") if p.parent.name.startswith(PHOTOS))
    colour = [p for p in photos if not p.parent.name.startswith("lfw_")]
    lfw = [p for p in photos if p.parent.name.startswith("lfw_")]  # 250 px greyscale: one photo in three
    lfw = [lfw[i] for i in rng.permutation(len(lfw))[: len(colour) // 2]]
    photos = [(colour + lfw)[i] for i in rng.permutation(len(colour) + len(lfw))]
    eyes = Eyes()
    items = []

    def save(kind: str, k: int, frames, fps: int, sources: list[str], blink_times, turns, params):
        rel = f"{kind}/{kind}_{k:02d}.mp4"
        (args.out / kind).mkdir(parents=True, exist_ok=True)
        (args.out / rel).write_bytes(encode_h264(frames, fps))
        items.append({"file": rel, "attack_type": kind, "bona_fide": False, "single_face": True,
                      "source_files": sources, "parameters": {"fps": fps, "frames": len(frames), **params},
                      "imitates": {"blink": bool(blink_times), "blink_times": blink_times, "turns": turns}})
        print(f"{rel}: {sources} blink={blink_times} turns={[t['direction'] for t in turns]}", file=sys.stderr)

    used = 0
    for k in range(args.per_kind):  # prints: half turn
        fps = int(rng.choice([25, 30]))
        turn = str(rng.choice(["turn_left", "turn_right"])) if k % 2 == 0 else None
        frames = None
        while frames is None:
            p = photos[used % len(photos)]
            used += 1
            if eyes(load_rgb(p)) is None:
                continue
            frames = make_print(rng, p, fps, float(rng.uniform(4, 6)), turn, fill=print_fill)
        turns = [{"direction": turn, "start": 0.6, "end": 3.5}] if turn else []
        save("print", k, frames, fps, [str(p.relative_to(d))], [], turns, {})
    for k in range(args.per_kind):  # cut-outs: real eyes behind the holes, blinking
        fps = int(rng.choice([25, 30]))
        e = blinkers[k % len(blinkers)]
        bt = float(rng.choice(e["blinks"]))
        src = eye_patch_source(d / "videos" / e["file"], bt, 5.0, eyes)
        while True:
            p = photos[used % len(photos)]
            used += 1
            pe = eyes(load_rgb(p))
            if pe is not None:
                break
        turn = str(rng.choice(["turn_left", "turn_right"])) if k % 3 == 2 else None
        frames = make_print(rng, p, fps, 5.0, turn, eyes_src=(src[0], src[1]), photo_eyes=pe, fill=print_fill)
        turns = [{"direction": turn, "start": 0.6, "end": 3.5}] if turn else []
        save("cutout", k, frames, fps, [str(p.relative_to(d)), f"videos/{e['file']}"], [round(src[2], 2)], turns,
             {"eyes_from_s": round(bt, 2)})
    for k in range(args.per_kind):  # replays of bona fide clips, challenged with what they contain
        e = bona[k % len(bona)]
        acts = sorted([(b, "blink") for b in e["blinks"]] + [(t["start"], t["direction"]) for t in e["turns"]])
        start = max(0.0, acts[0][0] - 1.0) if acts else 0.0
        seconds = min(6.0, e["duration_s"] - start)
        fps = 30
        frames = make_replay(rng, d / "videos" / e["file"], start, seconds, fps, fill=replay_fill)
        blinks = [round(b - start, 2) for b in e["blinks"] if start <= b < start + seconds]
        turns = [{"direction": t["direction"], "start": round(t["start"] - start, 2), "end": round(t["end"] - start, 2)}
                 for t in e["turns"] if start <= t["start"] < start + seconds]
        save("replay", k, frames, fps, [f"videos/{e['file']}"], blinks, turns,
             {"source_segment_s": [start, start + seconds]})
    (args.out / "manifest.json").write_text(json.dumps(
        {"description": "Attacks generated by bench/gen_attacks.py (see its docstring)", "seed": args.seed,
         "width": W, "height": H, "items": items}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
