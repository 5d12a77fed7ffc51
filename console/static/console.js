// hotline console: live updates from the node's server-sent events,
// countdowns to deadlines, read marks, and the phrase search. Every page
// also works without this script.
(function () {
  "use strict";
  var body = document.body;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var units = (body.dataset.units || "h,m,s").split(",");

  function duration(ms) {
    var s = Math.round(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    s = s % 60;
    if (h > 0) return h + units[0] + " " + m + units[1];
    if (m > 0) return m + units[1] + " " + s + units[2];
    return s + units[2];
  }

  // Countdowns: every element with data-deadline (Unix ms) says how long
  // is left, or how long it is overdue, in words.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Number(el.dataset.deadline) - now;
      var over = left < 0;
      el.textContent = (over ? body.dataset.dueOver : (el.dataset.in || body.dataset.dueIn)).replace("{d}", duration(left));
      el.classList.toggle("is-overdue", over);
      var item = el.closest("li.msg, li.call, li.item, tr");
      if (item && over) item.classList.add("overdue");
    });
  }

  // Read marks: a message shown to an operator is marked read, signed by
  // this party's node.
  function markRead() {
    var tl = document.getElementById("timeline");
    if (!tl || !csrf) return;
    tl.querySelectorAll("[data-unread]").forEach(function (el) {
      el.removeAttribute("data-unread");
      fetch("/api/v1/channels/" + encodeURIComponent(tl.dataset.channel) + "/entries/" + encodeURIComponent(el.dataset.entry) + "/read",
        { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    });
  }

  // What the operator has typed, chosen or opened in a region, and where
  // the caret is, survives the region's replacement by a fresh copy.
  function saveState(el) {
    var st = { fields: [], open: [], active: null };
    el.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (f) {
      if (f.type !== "hidden") st.fields.push({ id: f.id, value: f.value, checked: f.checked });
    });
    el.querySelectorAll("details[id]").forEach(function (d) { if (d.open) st.open.push(d.id); });
    var a = document.activeElement;
    if (a && a.id && el.contains(a)) {
      st.active = { id: a.id };
      try { st.active.start = a.selectionStart; st.active.end = a.selectionEnd; } catch (e) { /* not a text field */ }
    }
    return st;
  }
  function restoreState(st) {
    st.fields.forEach(function (f) {
      var t = document.getElementById(f.id);
      if (!t) return;
      if (t.type === "checkbox" || t.type === "radio") t.checked = f.checked; else t.value = f.value;
    });
    st.open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
    var a = st.active && document.getElementById(st.active.id);
    if (a) {
      a.focus();
      if (st.active.start != null) try { a.setSelectionRange(st.active.start, st.active.end); } catch (e) { /* not a text field */ }
    }
  }

  // Live regions: on any event, fetch this page again and swap in the
  // regions marked data-live, keeping what the operator is typing.
  var pending = null;
  function refresh() {
    pending = null;
    fetch(location.pathname + location.search, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected || !r.ok) return null;
      return r.text();
    }).then(function (html) {
      if (!html) return;
      var doc = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var fresh = doc.getElementById(el.id);
        if (!fresh) return;
        var st = saveState(el);
        el.replaceWith(fresh);
        restoreState(st);
      });
      tick();
      markRead();
    });
  }
  function soon() { if (!pending) pending = setTimeout(refresh, 250); }

  var status = document.getElementById("live-status");
  if (window.EventSource && document.querySelector("[data-live]")) {
    var es = new EventSource("/api/v1/events");
    ["entry", "delivered", "marked", "channel", "overdue", "alert", "link", "alarm", "lagged"].forEach(function (t) {
      es.addEventListener(t, soon);
    });
    es.onopen = function () { if (status) status.textContent = ""; };
    es.onerror = function () { if (status) status.textContent = body.dataset.offline || ""; };
  }

  // Phrase search: filter the list as the operator types.
  var search = document.getElementById("phrase-search");
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.toLowerCase();
      document.querySelectorAll("#phrase-list li").forEach(function (li) {
        li.hidden = q !== "" && li.dataset.search.toLowerCase().indexOf(q) < 0;
      });
    });
  }

  // The language switch applies as soon as it changes.
  var ls = document.getElementById("lang-switch");
  if (ls) ls.addEventListener("change", function () { ls.form.submit(); });

  tick();
  setInterval(tick, 1000);
  markRead();
})();
