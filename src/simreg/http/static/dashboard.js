// The dashboard: the review queue and disputes for supervisors; the outlet
// report, outcomes per day and the audit log's head for auditors.  Only the
// existing API is used; nothing here is stored in the browser but the token.
(function () {
  "use strict";
  var S = window.Simreg;
  var $ = function (id) { return document.getElementById(id); };
  var CHART_DAYS = 14;
  var CHART_ENTRIES = 5000;   // the newest audit entries the chart counts
  var PAGE = 1000;            // /v1/audit/entries' largest page
  var data = { reviews: null, disputes: null, report: null, entries: null, status: null, root: null, partial: false };
  var notes = {};             // per item: [key, params] of the last message shown

  function status(key, params) {
    $("dash-status").textContent = key ? S.t(key, params) : "";
    $("dash-status").setAttribute("data-key", key || "");
    status.last = key ? [key, params] : null;
  }

  function loaded() { status("dash.loaded", { time: S.formatTime(new Date()) }); }

  function fail(res) {
    $("dash-status").textContent = S.errorText(res);
    status.last = null;
  }

  function factList(rows) {
    var dl = S.el("dl", { "class": "facts" });
    rows.forEach(function (r) { dl.appendChild(S.el("dt", null, S.t(r[0]))); dl.appendChild(S.el("dd", null, r[1])); });
    return dl;
  }

  function num(v) { return typeof v === "number" ? (Math.round(v * 1000) / 1000).toString() : S.t("score.none"); }

  // ------------------------------------------------------------------ reviews
  function scoresTable(scores) {
    var table = S.el("table");
    var head = S.el("tr");
    ["score.check", "score.value", "score.threshold", "score.result"].forEach(function (k) { head.appendChild(S.el("th", { scope: "col" }, S.t(k))); });
    table.appendChild(head);
    function row(label, value, threshold, result, cls) {
      var tr = S.el("tr");
      tr.appendChild(S.el("th", { scope: "row" }, label));
      tr.appendChild(S.el("td", null, value));
      tr.appendChild(S.el("td", null, threshold));
      tr.appendChild(S.el("td", cls ? { "class": cls } : null, result));
      table.appendChild(tr);
    }
    var m = scores && scores.match;
    if (m) {
      var pass = typeof m.score === "number" && m.score >= m.threshold;
      row(S.t("score.match"), num(m.score), num(m.threshold), S.t(pass ? "score.pass" : "score.fail"), pass ? "pass" : "fail");
      if (m.review_threshold !== undefined && m.review_threshold !== null) {
        var inZone = typeof m.score === "number" && m.score >= m.review_threshold;
        row(S.t("score.match.review"), num(m.score), num(m.review_threshold),
            S.t(inZone ? "score.pass" : "score.fail"), inZone ? "pass" : "fail");
      }
    }
    var l = scores && scores.liveness;
    if (l) {
      row(S.t("score.liveness"), S.t("score.none"), S.t("score.none"), S.t(l.passed ? "score.pass" : "score.fail"), l.passed ? "pass" : "fail");
      if (typeof l.face_fraction === "number") row(S.t("score.face_fraction"), num(l.face_fraction), S.t("score.none"), S.t("score.none"));
    }
    var pad = (scores && scores.pad) || {};
    Object.keys(pad).forEach(function (k) { row(S.t("score.pad", { name: k }), num(pad[k]), S.t("score.none"), S.t("score.none")); });
    return table;
  }

  function decisionControls(id, kind, buttons, onDecide) {
    var box = S.el("div", { "class": "decide" });
    var taId = kind + "-note-" + id;
    box.appendChild(S.el("label", { "for": taId }, S.t(kind === "review" ? "dash.decision.reason" : "dispute.note")));
    var ta = S.el("textarea", { id: taId, rows: "2", maxlength: "500", "data-testid": kind + "-reason",
                                "aria-describedby": taId + "-msg" });
    box.appendChild(ta);
    var msg = S.el("p", { id: taId + "-msg", "class": "state", role: "status", "data-testid": kind + "-message" });
    var row = S.el("div", { "class": "buttons" });
    buttons.forEach(function (b) {
      var btn = S.el("button", { type: "button", "data-testid": kind + "-" + b[0] }, S.t(b[1]));
      btn.addEventListener("click", function () {
        var reason = ta.value.trim();
        if (reason.length < 3) {
          ta.setAttribute("aria-invalid", "true");
          notes[taId] = ["dash.reason.short"];
          msg.textContent = S.t("dash.reason.short");
          ta.focus();
          return;
        }
        ta.removeAttribute("aria-invalid");
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        onDecide(b[0], reason).then(function (res) {
          if (res.ok) { notes[taId] = res.note; msg.textContent = S.t(res.note[0], res.note[1]); ta.disabled = true; }
          else { msg.textContent = S.errorText(res.res); row.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); }
        });
      });
      row.appendChild(btn);
    });
    box.appendChild(row);
    box.appendChild(msg);
    if (notes[taId]) msg.textContent = S.t(notes[taId][0], notes[taId][1]);
    return box;
  }

  function renderReviews() {
    var list = $("review-queue");
    list.textContent = "";
    if (!data.reviews) return;
    $("queue-empty").hidden = data.reviews.length > 0;
    data.reviews.forEach(function (r) {
      var li = S.el("li", { "data-registration-id": r.registration_id });
      li.appendChild(S.el("h3", null, S.t("dash.item.title", { id: r.registration_id })));
      var facts = [["dash.item.created", S.formatTime(r.created_at)], ["dash.item.clerk", r.clerk_id]];
      if (r.phone_number_masked) facts.push(["dash.item.number", r.phone_number_masked]);
      li.appendChild(factList(facts));
      li.appendChild(S.el("h4", null, S.t("dash.item.reasons")));
      var ul = S.el("ul", { "class": "reasons" });
      (r.reasons || []).forEach(function (c) { ul.appendChild(S.el("li", { "data-code": c }, S.reasonText(c) + " (" + c + ")")); });
      li.appendChild(ul);
      li.appendChild(S.el("h4", null, S.t("dash.item.scores")));
      li.appendChild(scoresTable(r.scores));
      li.appendChild(decisionControls(r.registration_id, "review", [["approve", "dash.approve"], ["reject", "dash.reject"]],
        function (decision, reason) {
          return S.api("POST", "/v1/reviews/" + encodeURIComponent(r.registration_id), { decision: decision, reason: reason })
            .then(function (res) {
              if (res.status !== 200) return { ok: false, res: res };
              li.setAttribute("data-decided", res.data.outcome);
              r.decided = res.data.outcome;
              return { ok: true, note: ["dash.decided", { outcome: S.t("outcome." + res.data.outcome) }] };
            });
        }));
      if (r.decided) li.setAttribute("data-decided", r.decided);
      list.appendChild(li);
    });
  }

  function renderDisputes() {
    var list = $("disputes");
    list.textContent = "";
    if (!data.disputes) return;
    $("disputes-empty").hidden = data.disputes.length > 0;
    data.disputes.forEach(function (d) {
      var li = S.el("li", { "data-dispute-id": d.dispute_id });
      li.appendChild(S.el("h3", null, S.t("dispute.title", { id: d.dispute_id })));
      li.appendChild(factList([["dispute.number", d.phone_number_masked || ""], ["dispute.registration", d.registration_id || ""],
                               ["dispute.raised", S.formatTime(d.raised_at)]]));
      li.appendChild(decisionControls(d.dispute_id, "dispute", [["upheld", "dispute.uphold"], ["dismissed", "dispute.dismiss"]],
        function (resolution, note) {
          return S.api("POST", "/v1/disputes/" + encodeURIComponent(d.dispute_id), { resolution: resolution, note: note })
            .then(function (res) {
              if (res.status !== 200) return { ok: false, res: res };
              li.setAttribute("data-resolved", res.data.status);
              return { ok: true, note: ["dispute.resolved", { status: res.data.status }] };
            });
        }));
      list.appendChild(li);
    });
  }

  function loadSupervisor() {
    status("dash.loading");
    return Promise.all([S.api("GET", "/v1/reviews"), S.api("GET", "/v1/disputes")]).then(function (rs) {
      if (rs[0].status !== 200) { fail(rs[0]); return; }
      if (rs[1].status !== 200) { fail(rs[1]); return; }
      data.reviews = rs[0].data; data.disputes = rs[1].data;
      renderReviews(); renderDisputes(); loaded();
    });
  }

  // ------------------------------------------------------------------ the auditor's view
  function renderReport() {
    var box = $("outlet-report");
    box.textContent = "";
    if (!data.report) return;
    if (!data.report.length) { box.appendChild(S.el("p", null, S.t("report.empty"))); return; }
    var table = S.el("table");
    var cols = ["report.outlet", "report.registrations", "report.face_attempts", "report.alternative", "report.approved",
                "report.review", "report.rejected", "report.top_reasons", "report.disputes", "report.flags"];
    var head = S.el("tr");
    cols.forEach(function (k) { head.appendChild(S.el("th", { scope: "col" }, S.t(k))); });
    table.appendChild(head);
    data.report.forEach(function (o) {
      var tr = S.el("tr", { "data-outlet-id": o.outlet_id, "data-flags": (o.flags || []).join(",") });
      tr.appendChild(S.el("th", { scope: "row" }, o.outlet));
      var oc = o.outcomes || {};
      [o.registrations, o.face_attempts, o.alternative_path, oc.approved || 0, oc.review || 0, oc.rejected || 0]
        .forEach(function (v) { tr.appendChild(S.el("td", null, String(v))); });
      var reasons = S.el("td");
      var rl = S.el("ul", { "class": "reasons" });
      Object.keys(o.top_reasons || {}).forEach(function (c) {
        rl.appendChild(S.el("li", { "data-code": c }, o.top_reasons[c] + " × " + S.reasonText(c)));
      });
      reasons.appendChild(rl);
      tr.appendChild(reasons);
      var ds = o.disputes || {};
      tr.appendChild(S.el("td", null, Object.keys(ds).map(function (k) { return k + ": " + ds[k]; }).join(", ") || S.t("report.none")));
      var flags = S.el("td");
      if (!(o.flags || []).length) flags.textContent = S.t("report.none");
      (o.flags || []).forEach(function (f) {
        flags.appendChild(S.el("p", { "class": "flag", "data-flag": f }, S.has("flag." + f) ? S.t("flag." + f) : "⚠ " + f));
      });
      tr.appendChild(flags);
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  function localDay(d) {
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
  }

  function entryTime(e) { return new Date(String(e.timestamp).replace(/(\.\d{3})\d+/, "$1")); }

  function decisions() {
    return (data.entries || []).filter(function (e) {
      return e.action === "registration.decided" || e.action === "registration.alternative";
    });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderChart() {
    var box = $("chart");
    box.textContent = "";
    if (!data.entries) return;
    var days = [], counts = {}, today = new Date();
    for (var i = CHART_DAYS - 1; i >= 0; i--) {
      var d = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
      var key = localDay(d);
      days.push(key);
      counts[key] = { approved: 0, review: 0, rejected: 0 };
    }
    var any = false;
    decisions().forEach(function (e) {
      var key = localDay(entryTime(e));
      var outcome = null;
      try { outcome = JSON.parse(e.details).outcome; } catch (x) { outcome = null; }
      if (counts[key] && counts[key][outcome] !== undefined) { counts[key][outcome] += 1; any = true; }
    });
    box.appendChild(S.el("p", { "class": "help" }, S.t("chart.caption", { days: CHART_DAYS }) +
                         (data.partial ? " " + S.t("chart.partial", { n: CHART_ENTRIES }) : "")));
    if (!any) { box.appendChild(S.el("p", null, S.t("chart.empty"))); }
    var W = 640, H = 220, left = 36, bottom = 28, top = 10;
    var max = 1;
    days.forEach(function (k) { var c = counts[k]; max = Math.max(max, c.approved + c.review + c.rejected); });
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-title", "data-testid": "chart-svg" });
    chart.appendChild(svg("title", { id: "chart-title" }, S.t("dash.chart.heading")));
    // patterns, so the outcomes differ by more than colour
    var defs = svg("defs");
    var hatch = svg("pattern", { id: "p-review", width: "6", height: "6", patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    hatch.appendChild(svg("rect", { width: "6", height: "6", fill: "#fff" }));
    hatch.appendChild(svg("rect", { width: "3", height: "6", fill: "#f59e0b" }));
    var stripes = svg("pattern", { id: "p-rejected", width: "6", height: "6", patternUnits: "userSpaceOnUse" });
    stripes.appendChild(svg("rect", { width: "6", height: "6", fill: "#fff" }));
    stripes.appendChild(svg("rect", { width: "6", height: "3", fill: "#dc2626" }));
    defs.appendChild(hatch); defs.appendChild(stripes);
    chart.appendChild(defs);
    var fills = { approved: "#16a34a", review: "url(#p-review)", rejected: "url(#p-rejected)" };
    var plotH = H - bottom - top, step = (W - left) / days.length, bw = step * 0.7;
    chart.appendChild(svg("line", { x1: left, y1: top + plotH, x2: W, y2: top + plotH, stroke: "#111827" }));
    chart.appendChild(svg("text", { x: left - 6, y: top + 10, "text-anchor": "end", "font-size": "11" }, String(max)));
    chart.appendChild(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end", "font-size": "11" }, "0"));
    days.forEach(function (k, i) {
      var c = counts[k], y = top + plotH, x = left + i * step + (step - bw) / 2;
      ["approved", "review", "rejected"].forEach(function (o) {
        if (!c[o]) return;
        var h = plotH * c[o] / max;
        y -= h;
        var r = svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: h.toFixed(1), fill: fills[o],
                              stroke: "#111827", "stroke-width": "1", "data-day": k, "data-outcome": o, "data-count": c[o] });
        r.appendChild(svg("title", {}, k + " · " + S.t("report." + o) + ": " + c[o]));
        chart.appendChild(r);
      });
      if (i % 2 === 0 || days.length <= 7) {
        chart.appendChild(svg("text", { x: (left + i * step + step / 2).toFixed(1), y: H - 8, "text-anchor": "middle", "font-size": "11" }, k.slice(5)));
      }
    });
    box.appendChild(chart);
    var legend = S.el("ul", { "class": "legend" });
    ["approved", "review", "rejected"].forEach(function (o) {
      var li = S.el("li");
      li.appendChild(S.el("span", { "class": "swatch " + o, "aria-hidden": "true" }));
      li.appendChild(document.createTextNode(S.t("report." + o)));
      legend.appendChild(li);
    });
    box.appendChild(legend);
    // the same numbers as a table: for screen readers, and for anyone who cannot tell the bars apart
    var details = S.el("details");
    details.appendChild(S.el("summary", null, S.t("chart.day") + " / " + S.t("report.approved") + " / " +
                             S.t("report.review") + " / " + S.t("report.rejected")));
    var table = S.el("table", { "data-testid": "chart-table" });
    var head = S.el("tr");
    ["chart.day", "report.approved", "report.review", "report.rejected"].forEach(function (k) { head.appendChild(S.el("th", { scope: "col" }, S.t(k))); });
    table.appendChild(head);
    days.forEach(function (k) {
      var c = counts[k];
      if (!(c.approved + c.review + c.rejected)) return;
      var tr = S.el("tr", { "data-day": k });
      tr.appendChild(S.el("th", { scope: "row" }, k));
      [c.approved, c.review, c.rejected].forEach(function (v) { tr.appendChild(S.el("td", null, String(v))); });
      table.appendChild(tr);
    });
    details.appendChild(table);
    box.appendChild(details);
  }

  function renderAudit() {
    var dl = $("audit");
    dl.textContent = "";
    if (!data.status) return;
    var audit = data.status.audit || {};
    var size = audit.entries || 0;
    function fact(k, v, id) {
      dl.appendChild(S.el("dt", null, S.t(k)));
      var dd = S.el("dd", id ? { "data-testid": id } : null);
      if (v instanceof Node) dd.appendChild(v); else dd.textContent = v;
      dl.appendChild(dd);
    }
    fact("audit.size", String(size), "audit-size");
    fact("audit.root", size ? S.el("code", null, data.root || "…") : S.t("audit.empty"), "audit-root");
    var cp;
    if (!audit.checkpoint_public_key) cp = S.t("audit.checkpoint.none");
    else {
      var last = decisions().slice(-1)[0];
      cp = last ? S.t("audit.checkpoint.at", { time: S.formatTime(entryTime(last)), position: last.position,
                                               key: audit.checkpoint_public_key.key_id })
                : S.t("audit.checkpoint.never");
    }
    fact("audit.checkpoint", cp, "audit-checkpoint");
  }

  function fetchEntries(size) {
    // the newest CHART_ENTRIES entries, in pages
    var after = Math.max(-1, size - 1 - CHART_ENTRIES);
    data.partial = after > -1;
    var out = [];
    function next() {
      return S.api("GET", "/v1/audit/entries?after=" + after + "&limit=" + PAGE).then(function (res) {
        if (res.status !== 200) throw res;
        out = out.concat(res.data);
        if (res.data.length === PAGE) { after = res.data[res.data.length - 1].position; return next(); }
        return out;
      });
    }
    return next();
  }

  function loadAuditor() {
    status("dash.loading");
    return Promise.all([S.api("GET", "/v1/reports/outlets"), S.api("GET", "/status")]).then(function (rs) {
      if (rs[0].status !== 200) throw rs[0];
      if (rs[1].status !== 200) throw rs[1];
      data.report = rs[0].data;
      data.status = rs[1].data;
      renderReport();
      var size = (data.status.audit && data.status.audit.entries) || 0;
      var root = size ? S.api("GET", "/v1/audit/proof/" + (size - 1) + "?size=" + size) : Promise.resolve(null);
      return Promise.all([fetchEntries(size), root]);
    }).then(function (rs) {
      data.entries = rs[0];
      if (rs[1]) { if (rs[1].status !== 200) throw rs[1]; data.root = rs[1].data.root_hash; }
      renderChart(); renderAudit(); loaded();
    }).catch(fail);
  }

  function relabel() {
    renderReviews(); renderDisputes(); renderReport(); renderChart(); renderAudit();
    if (status.last) status(status.last[0], status.last[1]);
  }

  function init() {
    S.setupLang();
    S.onLang(relabel);
    S.setupAuth({
      allowed: ["supervisor", "auditor"], wrongRoleKey: "role.dashboard_only",
      onLogin: function (me, allowed) {
        $("supervisor-view").hidden = me.role !== "supervisor";
        $("auditor-view").hidden = me.role !== "auditor";
        if (me.role === "supervisor") loadSupervisor();
        else if (me.role === "auditor") loadAuditor();
      },
      onLogout: function () {
        data = { reviews: null, disputes: null, report: null, entries: null, status: null, root: null, partial: false };
        notes = {};
        $("supervisor-view").hidden = true; $("auditor-view").hidden = true;
        relabel(); status(null);
      }
    });
    $("queue-refresh").addEventListener("click", loadSupervisor);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
