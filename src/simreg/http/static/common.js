// Shared by the capture page and the dashboard: messages and language, the
// bearer token (sessionStorage only), calls to the API, plain-language errors.
(function () {
  "use strict";
  var TOKEN_KEY = "simreg.token";
  var LANG_KEY = "simreg.lang";  // a preference, not a secret: localStorage
  var LANGS = ["zh-CN", "en"];
  var S = (window.Simreg = window.Simreg || {});

  function pickLang() {
    var saved = null;
    try { saved = window.localStorage.getItem(LANG_KEY); } catch (e) { /* storage may be off */ }
    return LANGS.indexOf(saved) >= 0 ? saved : "zh-CN";
  }
  S.lang = pickLang();

  S.has = function (key) { return Object.prototype.hasOwnProperty.call(window.SIMREG_MESSAGES[S.lang], key); };

  // The message for key in the current language, with {name} parameters filled in.
  S.t = function (key, params) {
    var table = window.SIMREG_MESSAGES[S.lang] || {};
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m;
      });
    }
    return text;
  };

  // Fill every element that names a message: data-i18n (text), -placeholder, -aria-label.
  S.applyI18n = function (root) {
    root = root || document;
    document.documentElement.lang = S.lang;
    root.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = S.t(el.getAttribute("data-i18n")); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.setAttribute("placeholder", S.t(el.getAttribute("data-i18n-placeholder")));
    });
    root.querySelectorAll("[data-i18n-aria-label]").forEach(function (el) {
      el.setAttribute("aria-label", S.t(el.getAttribute("data-i18n-aria-label")));
    });
    var title = document.querySelector("h1[data-i18n]");
    if (title) document.title = title.textContent;
  };

  var langListeners = [];
  S.onLang = function (fn) { langListeners.push(fn); };
  S.setLang = function (lang) {
    if (LANGS.indexOf(lang) < 0) return;
    S.lang = lang;
    try { window.localStorage.setItem(LANG_KEY, lang); } catch (e) { /* ignore */ }
    S.applyI18n();
    langListeners.forEach(function (fn) { fn(lang); });
  };

  // ---------------------------------------------------------------- the token
  S.token = function () { return window.sessionStorage.getItem(TOKEN_KEY); };

  // fetch with the bearer token; always resolves to {status, data, headers}.
  // A network failure is status 0 with the code NETWORK.
  S.api = function (method, path, body) {
    var headers = { "Accept": "application/json" };
    var token = S.token();
    if (token) headers["Authorization"] = "Bearer " + token;
    var init = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return window.fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { code: "INTERNAL", message: text.slice(0, 200) }; }
        return { status: r.status, data: data, headers: r.headers };
      });
    }, function () {
      return { status: 0, data: { code: "NETWORK", message: "" }, headers: new Headers() };
    });
  };

  // ---------------------------------------------------------------- plain words
  S.reasonText = function (code) {
    return S.has("reason." + code) ? S.t("reason." + code) : S.t("reason.unknown", { code: code });
  };

  S.formatTime = function (iso) {
    var d = iso instanceof Date ? iso : new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(S.lang, { year: "numeric", month: "2-digit", day: "2-digit",
                                      hour: "2-digit", minute: "2-digit", second: "2-digit" });
  };

  // ISO-8601 with the local offset, e.g. 2026-11-29T08:15:00.123+08:00.
  S.isoLocal = function (d) {
    function p(n, w) { n = String(Math.abs(n)); while (n.length < (w || 2)) n = "0" + n; return n; }
    var off = -d.getTimezoneOffset();
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" +
      p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3) +
      (off >= 0 ? "+" : "-") + p(Math.floor(Math.abs(off) / 60)) + ":" + p(Math.abs(off) % 60);
  };

  // An error envelope {code, message} as one sentence in the clerk's language.
  S.errorText = function (res) {
    var code = (res.data && res.data.code) || (res.status ? "HTTP " + res.status : "NETWORK");
    var text = S.has("reason." + code) ? S.t("reason." + code) : ((res.data && res.data.message) || code);
    var out = S.t("error.detail", { text: text, code: code });
    var after = res.headers && res.headers.get && res.headers.get("Retry-After");
    if (after && /^LOCKOUT\./.test(code)) {
      out += " " + S.t("error.retry_after", { time: S.formatTime(new Date(Date.now() + Number(after) * 1000)) });
    }
    return out;
  };

  S.el = function (tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };

  // ---------------------------------------------------------------- log in / out
  // page: {allowed: [roles], onLogin(me), onLogout(), wrongRoleKey}
  S.setupAuth = function (page) {
    var form = document.getElementById("login-form");
    var input = document.getElementById("token");
    var error = document.getElementById("token-error");
    var loginSection = document.getElementById("login-section");
    var work = document.getElementById("work");
    var who = document.getElementById("who");
    var logout = document.getElementById("logout");
    var roleNote = document.getElementById("role-note");
    S.me = null;

    function showWho() {
      if (!S.me) return;
      who.textContent = S.t("who", { name: S.me.name, role: S.t("role." + S.me.role), outlet: S.me.outlet || S.me.outlet_id });
    }
    S.onLang(showWho);

    function enter(me) {
      S.me = me;
      showWho();
      who.hidden = false;
      logout.hidden = false;
      loginSection.hidden = true;
      work.hidden = false;
      var allowed = page.allowed.indexOf(me.role) >= 0;
      roleNote.hidden = allowed;
      if (!allowed) roleNote.textContent = S.t(page.wrongRoleKey);
      page.onLogin(me, allowed);
    }

    function check(token) {
      var status = document.getElementById("login-status");
      status.textContent = S.t("login.checking");
      error.textContent = "";
      window.sessionStorage.setItem(TOKEN_KEY, token);
      return S.api("GET", "/v1/me").then(function (res) {
        status.textContent = "";
        if (res.status === 200 && res.data) { input.value = ""; enter(res.data); return; }
        window.sessionStorage.removeItem(TOKEN_KEY);
        error.textContent = S.errorText(res);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = input.value.trim();
      input.removeAttribute("aria-invalid");
      if (!token) { error.textContent = S.t("login.empty"); input.setAttribute("aria-invalid", "true"); input.focus(); return; }
      check(token);
    });

    logout.addEventListener("click", function () {
      window.sessionStorage.clear();
      S.me = null;
      page.onLogout();
      who.hidden = true; who.textContent = "";
      logout.hidden = true;
      work.hidden = true;
      roleNote.hidden = true;
      loginSection.hidden = false;
      error.textContent = "";
      document.getElementById("login-status").textContent = S.t("logout.done");
      input.focus();
    });

    var saved = S.token();
    if (saved) check(saved);
  };

  S.setupLang = function () {
    var btn = document.getElementById("lang");
    btn.addEventListener("click", function () { S.setLang(S.lang === "zh-CN" ? "en" : "zh-CN"); });
    S.applyI18n();
  };
})();
