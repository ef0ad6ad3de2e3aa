// The clerk's capture page: document, consent, a live capture that follows the
// service's challenge, the upload, and the outcome in plain words.
(function () {
  "use strict";
  var S = window.Simreg;
  var $ = function (id) { return document.getElementById(id); };

  // The capture's timing (seconds).  The first prompt follows a short lead-in,
  // each prompt stays on screen PROMPT_S, and the recording stops MARGIN_S after
  // the last one, never later than the service's duration limit (minus a guard).
  var GET_READY_S = 2;
  var LEAD_S = 1.0;
  var PROMPT_S = 3.0;
  var MARGIN_S = 1.0;
  var LIMIT_GUARD_S = 0.75;
  // The session's colour flash starts this long after the recording, one colour
  // every flash.segment_s; the service checks that the face reflected it in time.
  var FLASH_START_S = 0.3;
  var MIME_TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"];
  var ICONS = { turn_left: "/static/turn-left.svg", turn_right: "/static/turn-right.svg", blink: "/static/blink.svg" };

  var state = {
    stream: null, hintTimer: null, busy: false, consentAt: null, lastUpload: null,
    prompt: null, status: null, outcome: null, hints: []
  };

  // ------------------------------------------------------------------ helpers
  function setStatus(key, params) {
    state.status = key ? [key, params] : null;
    $("capture-state").textContent = key ? S.t(key, params) : "";
  }

  function setPrompt(key, params, action) {
    state.prompt = key ? [key, params, action] : null;
    $("prompt").textContent = key ? S.t(key, params) : "";
    var icon = $("prompt-icon");
    if (action && ICONS[action]) { icon.src = ICONS[action]; icon.hidden = false; } else { icon.hidden = true; icon.removeAttribute("src"); }
    $("prompt").setAttribute("data-action", action || "");
  }

  function fieldError(id, key, params) {
    var input = $(id);
    var out = $(id + "-error");
    if (key) {
      out.textContent = S.t(key, params);
      out.setAttribute("data-key", key);
      if (params) out.setAttribute("data-params", JSON.stringify(params)); else out.removeAttribute("data-params");
      input.setAttribute("aria-invalid", "true");
    } else {
      out.textContent = "";
      out.removeAttribute("data-key"); out.removeAttribute("data-params"); out.removeAttribute("data-code");
      input.removeAttribute("aria-invalid");
    }
    return !key;
  }

  function relabelErrors() {
    document.querySelectorAll(".error[data-key]").forEach(function (out) {
      var p = out.getAttribute("data-params");
      out.textContent = S.t(out.getAttribute("data-key"), p ? JSON.parse(p) : null);
    });
  }

  function realDate(text) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m) return false;
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
  }

  // ------------------------------------------------------------------ the document
  function idType() { return $("id-type").value; }

  function showTypeFields() {
    var t = idType();
    $("birth-date-field").hidden = t !== "hk_macau_taiwan";
    $("mrz-field").hidden = t !== "passport";
    var lt = $("long-term");
    lt.disabled = t !== "cn_resident";  // only resident IDs are ever long-term
    if (lt.disabled) lt.checked = false;
    $("id-expiry").disabled = lt.checked;
  }

  function checkIdNumber() {
    var r = S.idcheck.checkIdNumber(idType(), $("id-number").value);
    var ok = fieldError("id-number", r ? r.key : null, r ? r.params : null);
    if (r) $("id-number-error").setAttribute("data-code", r.code);
    return ok;
  }

  function checkExpiry() {
    if ($("long-term").checked) return fieldError("id-expiry", null);
    var v = $("id-expiry").value.trim();
    if (/^(长期|長期|long[_-]?term)$/i.test(v) && idType() === "cn_resident") return fieldError("id-expiry", null);
    return fieldError("id-expiry", realDate(v) ? null : "field.expiry");
  }

  function checkForm() {
    var ok = checkIdNumber();
    ok = fieldError("name", $("name").value.trim() ? null : "field.required") && ok;
    ok = checkExpiry() && ok;
    if (idType() === "hk_macau_taiwan") {
      var b = $("birth-date").value.trim();
      ok = fieldError("birth-date", realDate(b) ? null : "field.date") && ok;
    }
    if (idType() === "passport") ok = fieldError("mrz", $("mrz").value.trim() ? null : "field.mrz") && ok;
    var f = $("portrait").files[0];
    var maxImage = (S.me && S.me.capture && S.me.capture.max_image_bytes) || Infinity;
    if (!f) ok = fieldError("portrait", "field.portrait") && ok;
    else if (f.size > maxImage) ok = fieldError("portrait", "field.portrait_large", { mb: Math.floor(maxImage / 1048576) }) && ok;
    else fieldError("portrait", null);
    ok = fieldError("consent", $("consent").checked ? null : "field.consent") && ok;
    if ($("consent").checked && !state.consentAt) state.consentAt = S.isoLocal(new Date());
    if (!ok) {
      var first = document.querySelector("#reg-form [aria-invalid=true]");
      if (first) first.focus();
    }
    return ok;
  }

  function expiryValue() {
    if ($("long-term").checked) return "long_term";
    var v = $("id-expiry").value.trim();
    return /^(长期|長期|long[_-]?term)$/i.test(v) ? "long_term" : v;
  }

  // ------------------------------------------------------------------ the camera
  function cameraError(err) {
    var name = err && err.name;
    if (!window.isSecureContext) return "camera.insecure";
    if (name === "NotAllowedError" || name === "SecurityError") return "camera.denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "camera.missing";
    if (name === "NotReadableError" || name === "AbortError") return "camera.busy";
    return "camera.missing";
  }

  function openCamera() {
    if (state.stream) return Promise.resolve(state.stream);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject({ key: window.isSecureContext ? "camera.missing" : "camera.insecure" });
    }
    setStatus("state.camera");
    return navigator.mediaDevices.getUserMedia({
      audio: false, video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }
    }).then(function (stream) {
      state.stream = stream;
      var video = $("preview");
      video.srcObject = stream;
      return new Promise(function (resolve) {
        if (video.readyState >= 2 && !video.paused) { resolve(); return; }
        video.addEventListener("playing", function once() { video.removeEventListener("playing", once); resolve(); });
        var p = video.play();
        if (p && p.catch) p.catch(function () { /* autoplay of a muted stream is allowed */ });
      }).then(function () { startHints(); return stream; });
    }, function (err) { throw { key: cameraError(err) }; });
  }

  function closeCamera() {
    stopHints();
    if (state.stream) state.stream.getTracks().forEach(function (t) { t.stop(); });
    state.stream = null;
    $("preview").srcObject = null;
  }

  // ------------------------------------------------------------------ live hints
  // Computed from the video frames on an 80x60 canvas: the mean brightness in
  // the oval (too dark / too bright), and where skin-coloured pixels are (too
  // small, off centre).  A light measure to guide the customer, not a decision.
  var HINT_W = 80, HINT_H = 60;
  var hintCanvas = null;

  function measure() {
    var video = $("preview");
    if (!video.videoWidth) return null;
    if (!hintCanvas) { hintCanvas = document.createElement("canvas"); hintCanvas.width = HINT_W; hintCanvas.height = HINT_H; }
    var ctx = hintCanvas.getContext("2d", { willReadFrequently: true });
    // the preview shows the centre 4:3 of the frame (object-fit: cover): measure that part
    var vw = video.videoWidth, vh = video.videoHeight, sw = vw, sh = vh;
    if (vw / vh > 4 / 3) sw = vh * 4 / 3; else sh = vw * 3 / 4;
    ctx.drawImage(video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, HINT_W, HINT_H);
    var px = ctx.getImageData(0, 0, HINT_W, HINT_H).data;
    // the oval of the guide: centre (50 %, 50 %), radii 22.5 % x 37.5 % of the frame
    var cx = HINT_W / 2, cy = HINT_H / 2, rx = HINT_W * 0.225, ry = HINT_H * 0.375;
    var lum = 0, inside = 0, skinIn = 0, skin = 0, sx = 0, sy = 0;
    for (var y = 0; y < HINT_H; y++) {
      for (var x = 0; x < HINT_W; x++) {
        var i = (y * HINT_W + x) * 4, r = px[i], g = px[i + 1], b = px[i + 2];
        var Y = 0.299 * r + 0.587 * g + 0.114 * b;
        var cr = 128 + 0.5 * r - 0.4187 * g - 0.0813 * b;
        var cb = 128 - 0.1687 * r - 0.3313 * g + 0.5 * b;
        var isSkin = Y > 35 && cr >= 133 && cr <= 180 && cb >= 77 && cb <= 135;
        var dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry;
        if (dx * dx + dy * dy <= 1) { lum += Y; inside++; if (isSkin) skinIn++; }
        if (isSkin) { skin++; sx += x + 0.5; sy += y + 0.5; }
      }
    }
    return {
      brightness: lum / Math.max(inside, 1), coverage: skinIn / Math.max(inside, 1),
      // offset of the skin centroid from the oval's centre, as a fraction of the frame;
      // x as the customer sees it in the mirrored preview
      offsetX: skin ? -((sx / skin) - cx) / HINT_W : 0, offsetY: skin ? ((sy / skin) - cy) / HINT_H : 0
    };
  }

  function hintsFor(m) {
    if (!m) return [];
    var out = [];
    if (m.brightness < 60) out.push(["hint.too_dark"]);
    else if (m.brightness > 215) out.push(["hint.too_bright"]);
    if (m.coverage < 0.25) out.push(["hint.too_small"]);
    else if (Math.abs(m.offsetX) > 0.12 || Math.abs(m.offsetY) > 0.15) {
      // tell the customer which way to move to bring the face back to the centre
      if (Math.abs(m.offsetX) >= Math.abs(m.offsetY)) {
        out.push(["hint.off_centre", m.offsetX > 0 ? { dir: S.t("dir.left"), arrow: "←", d: "left" }
                                                   : { dir: S.t("dir.right"), arrow: "→", d: "right" }]);
      } else {
        out.push(["hint.off_centre", m.offsetY > 0 ? { dir: S.t("dir.up"), arrow: "↑", d: "up" }
                                                   : { dir: S.t("dir.down"), arrow: "↓", d: "down" }]);
      }
    }
    return out.length ? out : [["hint.ok"]];
  }

  function renderHints() {
    var list = $("hints");
    var keys = state.hints.map(function (h) { return h[0]; }).join(",");
    if (list.getAttribute("data-hints") === keys + S.lang) return;  // unchanged: keep screen readers quiet
    list.setAttribute("data-hints", keys + S.lang);
    list.textContent = "";
    state.hints.forEach(function (h) {
      var params = h[1] ? Object.assign({}, h[1], { dir: S.t("dir." + h[1].d) }) : null;
      list.appendChild(S.el("li", { "class": h[0] === "hint.ok" ? "ok" : "warn", "data-hint": h[0].slice(5) },
                            S.t(h[0], params)));
    });
  }

  function startHints() {
    stopHints();
    state.hintTimer = window.setInterval(function () {
      try { state.hints = hintsFor(measure()); renderHints(); } catch (e) { /* a frame not ready yet */ }
    }, 250);
  }

  function stopHints() {
    if (state.hintTimer) window.clearInterval(state.hintTimer);
    state.hintTimer = null;
    state.hints = [];
    $("hints").textContent = "";
    $("hints").removeAttribute("data-hints");
  }

  // ------------------------------------------------------------------ recording
  function pickMime() {
    if (!window.MediaRecorder) return null;
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (!MediaRecorder.isTypeSupported || MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return "";
  }

  function sleep(ms) { return new Promise(function (r) { window.setTimeout(r, ms); }); }

  function countdown() {
    var n = GET_READY_S;
    function step() {
      if (n <= 0) return Promise.resolve();
      setStatus("state.ready", { n: n });
      setPrompt("prompt.getready", { n: n }, null);
      n -= 1;
      return sleep(1000).then(step);
    }
    return step();
  }

  // Lights the page (a full-window layer behind the cards, and a frame around the
  // camera's picture) with one colour, or clears it.
  function setFlash(colour) {
    var layer = $("flash");
    if (layer) {
      layer.style.backgroundColor = colour || "";
      layer.hidden = !colour;
    }
    $("stage").style.outline = colour ? "24px solid " + colour : "";
  }

  // Records while showing the challenge one prompt at a time and the session's
  // colour flash; resolves to {blob, mime, promptTimes, flashTimes} where the times
  // are seconds from the recording's start.
  function record(stream, actions, maxSeconds, flash) {
    var mime = pickMime();
    if (mime === null) return Promise.reject({ key: "camera.recorder" });
    var n = actions.length;
    var budget = Math.max(2, maxSeconds - LIMIT_GUARD_S);
    var promptS = Math.min(PROMPT_S, (budget - LEAD_S - MARGIN_S) / n);
    var total = Math.min(LEAD_S + n * promptS + MARGIN_S, budget);
    var opts = { videoBitsPerSecond: 2500000 };
    if (mime) opts.mimeType = mime;
    var rec;
    try { rec = new MediaRecorder(stream, opts); } catch (e) { rec = new MediaRecorder(stream); }
    var chunks = [];
    var promptTimes = [];
    var flashTimes = [];
    var colours = (flash && flash.colours) || [];
    var segment = (flash && flash.segment_s) || 0.4;
    if (FLASH_START_S + colours.length * segment > total) colours = [];  // no room: no flash
    return new Promise(function (resolve, reject) {
      var t0 = 0, timers = [];
      rec.ondataavailable = function (ev) { if (ev.data && ev.data.size) chunks.push(ev.data); };
      rec.onerror = function () { timers.forEach(window.clearTimeout); reject({ key: "camera.recorder" }); };
      rec.onstop = function () {
        timers.forEach(window.clearTimeout);
        setFlash(null);
        resolve({ blob: new Blob(chunks, { type: rec.mimeType || mime || "video/webm" }),
                  mime: rec.mimeType || mime, promptTimes: promptTimes,
                  flashTimes: flashTimes.length === colours.length ? flashTimes : [] });
      };
      rec.onstart = function () {
        t0 = performance.now();
        $("preview").setAttribute("data-recording-mime", rec.mimeType || mime || "");
        setStatus("state.recording");
        setPrompt("prompt.look", null, null);
        actions.forEach(function (action, k) {
          timers.push(window.setTimeout(function () {
            // the time the prompt really appeared, not the time it was planned for
            promptTimes[k] = (performance.now() - t0) / 1000;
            var key = S.has("prompt." + action) ? "prompt." + action : "prompt.other";
            setPrompt(key, { action: action }, action);
          }, (LEAD_S + k * promptS) * 1000));
        });
        colours.forEach(function (colour, k) {
          timers.push(window.setTimeout(function () {
            setFlash(colour);
            flashTimes[k] = (performance.now() - t0) / 1000;  // when it really appeared
          }, (FLASH_START_S + k * segment) * 1000));
        });
        if (colours.length) {
          timers.push(window.setTimeout(function () { setFlash(null); },
                                        (FLASH_START_S + colours.length * segment) * 1000));
        }
        timers.push(window.setTimeout(function () { setPrompt("prompt.hold", null, null); },
                                      (LEAD_S + n * promptS) * 1000));
        timers.push(window.setTimeout(function () { if (rec.state !== "inactive") rec.stop(); }, total * 1000));
      };
      rec.start(1000);
    });
  }

  // ------------------------------------------------------------------ upload
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function buildForm(sessionId, capture) {
    var fd = new FormData();
    fd.append("session_id", sessionId);
    fd.append("id_type", idType());
    // sent as the service normalises it (no spaces, half-width, upper case)
    var number = S.idcheck.normalise($("id-number").value);
    if (number) fd.append("id_number", number);
    if (idType() === "passport") fd.append("mrz", $("mrz").value.trim());
    fd.append("name", $("name").value.trim());
    fd.append("id_expiry", expiryValue());
    if (idType() === "hk_macau_taiwan") fd.append("birth_date", $("birth-date").value.trim());
    // the recording is the camera's own image; only the preview is mirrored
    fd.append("mirrored", "false");
    fd.append("prompt_times", capture.promptTimes.map(function (t) { return t.toFixed(2); }).join(","));
    if (capture.flashTimes.length) {
      fd.append("flash_times", capture.flashTimes.map(function (t) { return t.toFixed(3); }).join(","));
    }
    fd.append("consent", JSON.stringify({ text_version: S.t("consent.version_id"), accepted_at: state.consentAt }));
    fd.append("portrait", $("portrait").files[0]);
    var ext = /mp4/.test(capture.mime || "") ? "mp4" : "webm";
    fd.append("video", capture.blob, "capture." + ext);
    return fd;
  }

  function upload(form, key) {
    state.lastUpload = { form: form, key: key };
    var bar = $("upload-progress");
    bar.value = 0;
    setStatus("state.uploading");
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/registrations");
      xhr.setRequestHeader("Authorization", "Bearer " + S.token());
      xhr.setRequestHeader("Idempotency-Key", key);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (ev) { if (ev.lengthComputable) bar.value = Math.round(100 * ev.loaded / ev.total); };
      xhr.upload.onload = function () { bar.value = 100; setStatus("state.analysing"); };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = { code: "INTERNAL", message: "" }; }
        resolve({ status: xhr.status, data: data,
                  headers: { get: function (h) { return xhr.getResponseHeader(h); } } });
      };
      xhr.onerror = xhr.ontimeout = function () {
        resolve({ status: 0, data: { code: "NETWORK", message: "" }, headers: { get: function () { return null; } } });
      };
      xhr.send(form);
    });
  }

  // ------------------------------------------------------------------ outcome
  // What the clerk does next, by reason code (first match wins per code).
  function nextSteps(outcome, reasons) {
    if (outcome === "approved") return ["next.done"];
    if (outcome === "review") return ["next.supervisor"];
    var steps = [];
    function add(k) { if (steps.indexOf(k) < 0) steps.push(k); }
    reasons.forEach(function (c) {
      if (/^QUALITY\.(UNDEREXPOSED|OVEREXPOSED|LOW_CONTRAST|BLUR)$/.test(c)) add("next.light");
      else if (/^(FACE\.|QUALITY\.|LIVENESS\.(FACE_LOST|MULTIPLE_FACES))/.test(c)) add("next.position");
      else if (/^LIVENESS\./.test(c)) add("next.retry");
      else if (/^PAD\./.test(c)) add("next.supervisor");
      else if (/^MATCH\./.test(c)) { add("next.portrait"); add("next.supervisor"); }
      else add("next.retry");
    });
    if (!steps.length) add("next.retry");
    add("next.alternative");
    return steps;
  }

  function errorSteps(res) {
    var code = (res.data && res.data.code) || "";
    if (/^ID\./.test(code) || code === "REGISTRATION.FIELD" || /^CONSENT\./.test(code)) return ["next.document"];
    if (/^LOCKOUT\./.test(code)) {
      var after = res.headers && res.headers.get("Retry-After");
      var until = after ? S.formatTime(new Date(Date.now() + Number(after) * 1000)) : "—";
      return [["next.wait", { time: until }], "next.supervisor", "next.alternative"];
    }
    if (/^SESSION\./.test(code) || /^MEDIA\./.test(code) || /^FACE\./.test(code) || /^QUALITY\./.test(code)) {
      return ["next.retry", "next.alternative"];
    }
    if (/^AUTH\./.test(code)) return ["next.login"];
    if (code === "QUOTA.EXCEEDED") return ["next.quota", "next.supervisor"];
    return ["next.later"];
  }

  function renderOutcome() {
    var o = state.outcome;
    var section = $("outcome-section");
    var box = $("outcome");
    var err = $("error-box");
    if (!o) { section.hidden = true; return; }
    section.hidden = false;
    $("reupload").hidden = !(o.kind === "error" && o.retryable);
    $("outcome-facts").textContent = "";
    $("outcome-reasons").textContent = "";
    $("outcome-next").textContent = "";
    var steps;
    box.hidden = false;
    if (o.kind === "camera") {
      err.hidden = false;
      err.textContent = S.t(o.key);
      $("outcome-mark").textContent = "✖";
      $("outcome-title").textContent = S.t("error.title");
      steps = [];
    } else if (o.kind === "error") {
      err.hidden = false;
      err.textContent = S.errorText(o.res);
      $("outcome-mark").textContent = "✖";
      $("outcome-title").textContent = S.t("error.title");
      steps = errorSteps(o.res);
    } else {
      var body = o.body;
      err.hidden = true;
      $("outcome-mark").textContent = S.t("outcome.mark." + body.outcome);
      $("outcome-title").textContent = S.t("outcome." + body.outcome);
      var facts = $("outcome-facts");
      function fact(k, v) { facts.appendChild(S.el("dt", null, S.t(k))); facts.appendChild(S.el("dd", null, v)); }
      fact("outcome.registration", body.registration_id);
      if (body.phone_number) fact(body.outcome === "review" ? "outcome.number_reserved" : "outcome.number", body.phone_number);
      if (body.receipt) fact("outcome.receipt", S.t("outcome.receipt_value", {
        position: body.receipt.audit_position, hash: String(body.receipt.entry_hash || "").slice(0, 16) }));
      body.reasons.forEach(function (c) {
        $("outcome-reasons").appendChild(S.el("li", { "data-code": c }, S.reasonText(c)));
      });
      if (body.idempotent_replay) $("outcome-reasons").appendChild(S.el("li", null, S.t("outcome.replay")));
      steps = nextSteps(body.outcome, body.reasons || []);
    }
    $("outcome-next-h").hidden = !steps.length;
    steps.forEach(function (s) {
      var k = Array.isArray(s) ? s[0] : s;
      $("outcome-next").appendChild(S.el("li", { "data-step": k }, S.t(k, Array.isArray(s) ? s[1] : null)));
    });
  }

  function showResult(res) {
    var box = $("outcome");
    if (res.status === 200 && res.data && res.data.outcome) {
      state.outcome = { kind: "outcome", body: res.data };
      box.setAttribute("data-outcome", res.data.outcome);
      box.setAttribute("data-registration-id", res.data.registration_id);
      box.setAttribute("data-reasons", (res.data.reasons || []).join(","));
    } else {
      // a network failure or a 5xx may be retried with the same Idempotency-Key
      var retryable = res.status === 0 || res.status >= 500 || (res.data && res.data.code === "IDEMPOTENCY.IN_PROGRESS");
      state.outcome = { kind: "error", res: res, retryable: retryable };
      box.removeAttribute("data-outcome");
      box.removeAttribute("data-registration-id");
      box.removeAttribute("data-reasons");
      $("error-box").setAttribute("data-code", (res.data && res.data.code) || "");
    }
    setStatus("state.done");
    renderOutcome();
    box.focus();
  }

  function clearOutcome() {
    state.outcome = null;
    var box = $("outcome");
    ["data-outcome", "data-registration-id", "data-reasons"].forEach(function (a) { box.removeAttribute(a); });
    $("error-box").removeAttribute("data-code");
    renderOutcome();
  }

  // ------------------------------------------------------------------ the flow
  function setBusy(b) {
    state.busy = b;
    ["start", "camera", "retry", "next-customer", "reupload"].forEach(function (id) { $(id).disabled = b; });
  }

  function devChallenge() {
    // development servers (SIMREG_ENV=development) accept a named challenge, so a
    // test can replay a recorded video; production refuses it (403).
    var m = /[?&]challenge=([a-z_,]+)/.exec(window.location.search);
    return m ? { challenge: m[1].split(",") } : undefined;
  }

  function startCapture() {
    if (state.busy) return;
    if (!checkForm()) { setStatus("field.check"); return; }
    clearOutcome();
    setBusy(true);
    var session = null;
    setStatus("state.session");
    S.api("POST", "/v1/sessions", devChallenge()).then(function (res) {
      if (res.status !== 201) throw { res: res };
      session = res.data;
      return openCamera();
    }).then(function (stream) {
      return countdown().then(function () {
        var limit = (S.me && S.me.capture && S.me.capture.max_video_duration_s) || 15;
        return record(stream, session.challenge, limit, session.flash);
      });
    }).then(function (capture) {
      setPrompt(null);
      setStatus("state.stopped");
      closeCamera();  // the camera's light goes off as soon as the recording ends
      return upload(buildForm(session.session_id, capture), newKey());
    }).then(showResult, function (err) {
      setPrompt(null);
      setFlash(null);
      closeCamera();
      if (err && err.res) showResult(err.res);
      else showCameraError(err && err.key ? err.key : "camera.recorder");
    }).then(function () { setBusy(false); }, function () { setBusy(false); });
  }

  function showCameraError(key) {
    state.outcome = { kind: "camera", key: key };
    $("error-box").setAttribute("data-code", "CAMERA");
    setStatus(null);
    renderOutcome();
  }

  function reupload() {
    if (!state.lastUpload || state.busy) return;
    setBusy(true);
    upload(state.lastUpload.form, state.lastUpload.key).then(showResult).then(function () { setBusy(false); });
  }

  function nextCustomer() {
    clearOutcome();
    $("reg-form").reset();
    state.consentAt = null;
    state.lastUpload = null;
    $("upload-progress").value = 0;
    document.querySelectorAll("#reg-form .error").forEach(function (e) { e.textContent = ""; e.removeAttribute("data-key"); });
    document.querySelectorAll("#reg-form [aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    showTypeFields();
    setStatus(null);
    $("id-number").focus();
  }

  function relabel() {
    $("consent-version-id").textContent = S.t("consent.version_id");
    if (state.status) setStatus(state.status[0], state.status[1]);
    if (state.prompt) setPrompt(state.prompt[0], state.prompt[1], state.prompt[2]);
    relabelErrors();
    renderHints();
    renderOutcome();
  }

  function init() {
    S.setupLang();
    S.onLang(relabel);
    $("consent-version-id").textContent = S.t("consent.version_id");
    S.setupAuth({
      allowed: ["clerk"], wrongRoleKey: "role.capture_only",
      onLogin: function (me, allowed) {
        $("reg-form").hidden = !allowed;
        if (allowed) $("id-number").focus();
      },
      onLogout: function () { closeCamera(); nextCustomer(); $("reg-form").hidden = false; }
    });
    $("id-type").addEventListener("change", function () { showTypeFields(); if ($("id-number").value) checkIdNumber(); });
    $("id-number").addEventListener("blur", checkIdNumber);
    $("id-expiry").addEventListener("blur", function () { if ($("id-expiry").value) checkExpiry(); });
    $("long-term").addEventListener("change", function () { $("id-expiry").disabled = $("long-term").checked; checkExpiry(); });
    $("consent").addEventListener("change", function () {
      // the time of acceptance goes with the registration
      state.consentAt = $("consent").checked ? S.isoLocal(new Date()) : null;
      if ($("consent").checked) fieldError("consent", null);
    });
    $("portrait").addEventListener("change", function () { if ($("portrait").files[0]) fieldError("portrait", null); });
    $("start").addEventListener("click", startCapture);
    $("camera").addEventListener("click", function () {
      if (state.busy) return;
      openCamera().then(function () { setStatus(null); }, function (err) { showCameraError(err.key); });
    });
    $("retry").addEventListener("click", startCapture);
    $("reupload").addEventListener("click", reupload);
    $("next-customer").addEventListener("click", nextCustomer);
    $("reg-form").addEventListener("submit", function (ev) { ev.preventDefault(); });
    showTypeFields();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
