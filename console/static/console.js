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

  // The watch page's UTC clock.
  var clock = document.getElementById("utc-clock");
  function clockTick() {
    if (!clock) return;
    var iso = new Date().toISOString();
    clock.textContent = iso.slice(11, 19);
    clock.dateTime = iso.slice(0, 19) + "Z";
  }

  // Countdowns: every element with data-deadline (Unix ms) says how long
  // is left, or how long it is overdue, in words.
  function tick() {
    clockTick();
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Number(el.dataset.deadline) - now;
      var over = left < 0;
      el.textContent = (over ? (el.dataset.over || body.dataset.dueOver) : (el.dataset.in || body.dataset.dueIn)).replace("{d}", duration(left));
      if (el.dataset.over) return; // a start time, not a deadline: passing it is no fault
      el.classList.toggle("is-overdue", over);
      var item = el.closest("li.msg, li.call, li.item, tr");
      if (item && over) item.classList.add("overdue");
    });
  }

  // Read marks: the unread messages an operator has actually had on
  // screen (half of one in view, with the tab visible) are marked read
  // together, one request per screenful, each signed by this party's
  // node as one cumulative read per feed.
  var tl = document.getElementById("timeline");
  var toMark = {}, markTimer = null;
  function flushReads() {
    markTimer = null;
    var ids = Object.keys(toMark);
    toMark = {};
    if (!ids.length || !tl || !csrf) return;
    fetch("/api/v1/channels/" + encodeURIComponent(tl.dataset.channel) + "/read", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ entries: ids })
    });
  }
  function seen(el) {
    if (!el.hasAttribute("data-unread")) return;
    el.removeAttribute("data-unread");
    toMark[el.dataset.entry] = true;
    if (!markTimer) markTimer = setTimeout(flushReads, 400);
  }
  var observer = window.IntersectionObserver ? new IntersectionObserver(function (seenNow) {
    if (document.hidden) return;
    seenNow.forEach(function (e) {
      if (e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= window.innerHeight / 2)) {
        observer.unobserve(e.target);
        seen(e.target);
      }
    });
  }, { threshold: [0, 0.5, 1] }) : null;
  function watchUnread() {
    if (!tl) return;
    tl.querySelectorAll("[data-unread]").forEach(function (el) {
      if (!observer) { seen(el); return; }
      observer.unobserve(el);
      observer.observe(el);
    });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) watchUnread(); });

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

  // Replace el by fresh, keeping what the operator typed, opened and
  // focused in it.
  function swap(el, fresh) {
    var st = saveState(el);
    el.replaceWith(fresh);
    restoreState(st);
  }

  // Replace a timeline row by its fresh copy; a translation form the
  // operator opened (fetched when opened, so not in the copy) moves over
  // as it is, with what is typed in it.
  function swapRow(old, fresh) {
    var form = old.querySelector("details.translate[open] form");
    var st = saveState(old);
    if (form) {
      var open = form.closest("details"), slot = fresh.querySelector("details.translate");
      if (slot) slot.replaceWith(open);
    }
    old.replaceWith(fresh);
    restoreState(st);
  }

  // Live regions of other pages (and a channel's calls): on an event,
  // fetch the page again and swap in the regions marked data-live. One
  // fetch at a time, so refreshes never overlap or arrive out of order.
  var regionsBusy = false, regionsAgain = false;
  function refreshRegions() {
    if (regionsBusy) { regionsAgain = true; return; }
    regionsBusy = true;
    fetch(location.pathname + location.search, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected || !r.ok) return null;
      return r.text();
    }).then(function (html) {
      if (!html) return;
      var doc = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var fresh = doc.getElementById(el.id);
        if (fresh) swap(el, fresh);
      });
      if (doc.title) document.title = doc.title;
      tick();
      alertChanges();
    }).catch(function () { /* the next event tries again */ }).then(function () {
      regionsBusy = false;
      if (regionsAgain) { regionsAgain = false; setTimeout(refreshRegions, 250); }
    });
  }

  // A channel's timeline takes events as deltas: a new entry is fetched
  // alone (what the node stored since the page last looked) and placed
  // in channel order; a receipt or a read refreshes only the rows it
  // changes; nothing else on the page is touched. One request at a time,
  // in event order.
  var MAX_ROWS = 300;
  var want = { append: false, ranges: [] }, busy = false;
  function rowsURL(params) {
    return "/console/channels/" + encodeURIComponent(tl.dataset.channel) + "/rows?" + params;
  }
  function cursorOf(li) { return li.dataset.cursor; }
  // before reports whether cursor a comes before cursor b in channel
  // order: by depth, then author, then seq ("DEPTH.SEQ.AUTHOR").
  function before(a, b) {
    var x = a.split("."), y = b.split(".");
    var ax = x.slice(2).join("."), by = y.slice(2).join(".");
    if (Number(x[0]) !== Number(y[0])) return Number(x[0]) < Number(y[0]);
    if (ax !== by) return ax < by;
    return Number(x[1]) < Number(y[1]);
  }
  // place puts a new row where it belongs in channel order: an entry that
  // arrives late can belong before rows already shown. Rows that belong
  // outside the page shown (before its first, or after its last when
  // later pages exist) are left to those pages.
  function place(list, rows, li) {
    var all = list.children, c = cursorOf(li);
    if (all.length && before(c, cursorOf(all[0])) && rows.querySelector("p.earlier")) return;
    for (var i = 0; i < all.length; i++) {
      if (before(c, cursorOf(all[i]))) { list.insertBefore(li, all[i]); return; }
    }
    if (!rows.hasAttribute("data-later")) list.appendChild(li);
  }
  function applyRows(html, appending) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("rows");
    var rows = document.getElementById("rows");
    if (!fresh || !rows) return false;
    var list = rows.querySelector("ol.timeline");
    fresh.querySelectorAll("ol.timeline > li").forEach(function (li) {
      var old = document.getElementById(li.id);
      if (old) {
        if (old.outerHTML !== li.outerHTML) swapRow(old, document.importNode(li, true));
      } else if (appending) {
        place(list, rows, document.importNode(li, true));
      }
    });
    var bar = document.getElementById("unread-bar"), freshBar = fresh.querySelector("#unread-bar");
    if (bar && freshBar && bar.innerHTML !== freshBar.innerHTML) bar.innerHTML = freshBar.innerHTML;
    if (appending) {
      rows.dataset.stored = fresh.dataset.stored;
      // The page stays bounded: the oldest rows give way, and a link
      // leads back to them.
      var all = list.children;
      if (all.length > MAX_ROWS) {
        while (all.length > MAX_ROWS) list.removeChild(all[0]);
        rows.dataset.prev = cursorOf(all[0]);
        var earlier = rows.querySelector("p.earlier a");
        if (earlier) earlier.href = earlier.pathname + "?before=" + encodeURIComponent(rows.dataset.prev) + "#timeline";
      }
      return fresh.hasAttribute("data-later");
    }
    return false;
  }
  function pump() {
    var rows = document.getElementById("rows");
    if (busy || !rows) return;
    var url = null, appending = false;
    if (want.ranges.length) {
      var r = want.ranges.shift();
      url = rowsURL("from=" + encodeURIComponent(r[0]) + "&to=" + encodeURIComponent(r[1]) + "&limit=1000");
    } else if (want.append) {
      // What the node stored since the page's last look, in the order it
      // stored it; each new row is placed by its cursor.
      want.append = false;
      appending = true;
      url = rowsURL("stored_after=" + encodeURIComponent(rows.dataset.stored || "0"));
    }
    if (!url) return;
    busy = true;
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (r.redirected || !r.ok) return null;
      return r.text();
    }).then(function (html) {
      if (html && applyRows(html, appending)) want.append = true;
      tick();
      watchUnread();
    }).catch(function () { /* the next event tries again */ }).then(function () {
      busy = false;
      pump();
    });
  }
  function rangeOf(match) {
    var lis = Array.prototype.filter.call(document.querySelectorAll("#rows ol.timeline > li.msg"), match);
    if (lis.length) want.ranges.push([cursorOf(lis[0]), cursorOf(lis[lis.length - 1])]);
  }
  function onChannelEvent(type, d) {
    if (d.channel && d.channel !== tl.dataset.channel) return;
    if (type === "entry") {
      want.append = true;
      if (d.kind === "call" || d.kind === "directory") refreshRegions();
      if (d.kind === "translation") rangeOf(function () { return true; }); // the message it translates is on the page
    } else if (type === "delivered") {
      rangeOf(function (li) { return li.dataset.author === d.author && Number(li.dataset.seq) <= d.seq && li.hasAttribute("data-pending"); });
    } else if (type === "marked") {
      var from = d.from || d.seq;
      rangeOf(function (li) { return li.dataset.author === d.author && Number(li.dataset.seq) >= from && Number(li.dataset.seq) <= d.seq; });
    } else if (type === "lagged") {
      var rows = document.getElementById("rows");
      if (rows && rows.children.length) want.ranges.push([rows.dataset.prev, rows.dataset.next]);
      want.append = true;
      refreshRegions();
    } else {
      refreshRegions();
    }
    pump();
  }

  var status = document.getElementById("live-status");
  if (window.EventSource && (tl || document.querySelector("[data-live]"))) {
    var es = new EventSource("/api/v1/events");
    ["entry", "delivered", "marked", "channel", "overdue", "alert", "link", "alarm", "draft", "lagged"].forEach(function (t) {
      es.addEventListener(t, function (ev) {
        if (!tl) { refreshRegions(); return; }
        var d = {};
        try { d = JSON.parse(ev.data); } catch (e) { /* an event without data */ }
        onChannelEvent(t, d);
      });
    });
    // On (re)connecting, fetch the live regions once: anything that
    // changed between the page's rendering and the stream's opening, or
    // while it was down, is shown.
    es.onopen = function () {
      if (status) status.textContent = "";
      if (!tl) refreshRegions();
    };
    es.onerror = function () { if (status) status.textContent = body.dataset.offline || ""; };
  }

  // Alerts on the watch page, if the operator turns them on (kept in this
  // browser): a tone and a browser notification when something new needs
  // our answer, or something we owe goes overdue. Permission to notify is
  // asked once, when they are turned on.
  var alertsBox = document.getElementById("alerts");
  function owedNow() {
    var s = {};
    document.querySelectorAll("#owe tr[data-item]").forEach(function (tr) {
      s[tr.dataset.item] = { overdue: tr.hasAttribute("data-overdue"), text: (tr.querySelector(".text") || {}).textContent || "" };
    });
    return s;
  }
  var owed = owedNow();
  function beep() {
    try {
      var C = window.AudioContext || window.webkitAudioContext;
      var ac = beep.ac || (beep.ac = new C());
      var o = ac.createOscillator(), g = ac.createGain();
      o.frequency.value = 880;
      g.gain.value = 0.2;
      o.connect(g);
      g.connect(ac.destination);
      o.start();
      o.stop(ac.currentTime + 0.4);
    } catch (e) { /* no audio here */ }
  }
  function alertChanges() {
    if (!alertsBox) return;
    var now = owedNow(), lines = [];
    Object.keys(now).forEach(function (k) {
      if (!owed[k]) lines.push(alertsBox.dataset.new.replace("{t}", now[k].text));
      else if (now[k].overdue && !owed[k].overdue) lines.push(alertsBox.dataset.overdue.replace("{t}", now[k].text));
    });
    owed = now;
    if (!alertsBox.checked || !lines.length) return;
    beep();
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification(document.title, { body: lines.join("\n"), tag: "hotline-watch" }); } catch (e) { /* not allowed here */ }
    }
    window.hotlineAlerts = (window.hotlineAlerts || []).concat(lines); // what was announced, for tests and the curious
  }
  if (alertsBox) {
    alertsBox.closest("p").hidden = false;
    alertsBox.checked = localStorage.getItem("hotline-alerts") === "on";
    alertsBox.addEventListener("change", function () {
      localStorage.setItem("hotline-alerts", alertsBox.checked ? "on" : "off");
      if (alertsBox.checked && window.Notification && Notification.permission === "default") Notification.requestPermission();
    });
  }

  // A message's translation form is rendered when opened, not with every
  // message: opening it fetches the form.
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (!d.matches || !d.matches("details.translate") || !d.open) return;
    var a = d.querySelector("a.tr-open");
    if (!a) return;
    fetch(a.href, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(d.id);
      if (!fresh || !fresh.querySelector("form")) return;
      fresh = document.importNode(fresh, true);
      fresh.open = true;
      d.replaceWith(fresh);
      var first = fresh.querySelector("textarea, input:not([type=hidden]), select");
      if (first) first.focus();
    });
  }, true);

  // A refused form's summary of what to fix takes the focus, so that it
  // is read first; each line links to its field.
  var problems = document.getElementById("errors");
  if (problems) problems.focus();

  // A channel opens at its newest entry, with the compose form below it.
  if (tl && !problems && !location.hash && !/[?&](before|after|from|entry|form)=/.test(location.search)) {
    var last = tl.querySelector("ol.timeline > li:last-child");
    if (last) last.scrollIntoView({ block: "end" });
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

  // The language switch applies on its button only, never on a change
  // of the selection alone (WCAG 3.2.2): an arrow key must not reload the
  // console in another language.

  // Passkeys (WebAuthn): register one, and release drafts with it. The
  // node checks each assertion against the draft's release challenge and
  // the operator's registered passkeys.
  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }
  function toB64url(buf) {
    return toB64(buf).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function postJSON(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || r.statusText);
        return j;
      });
    });
  }
  var register = document.querySelector("[data-passkey-register]");
  if (register && window.PublicKeyCredential) {
    register.addEventListener("click", function () {
      var status = document.getElementById("passkey-status");
      register.disabled = true;
      postJSON("/console/passkeys/begin", {}).then(function (opt) {
        var pk = opt.publicKey;
        pk.challenge = fromB64url(pk.challenge);
        pk.user.id = fromB64url(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
        return navigator.credentials.create({ publicKey: pk });
      }).then(function (cred) {
        return postJSON("/console/passkeys/finish", {
          id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
          response: {
            clientDataJSON: toB64url(cred.response.clientDataJSON),
            attestationObject: toB64url(cred.response.attestationObject),
            transports: cred.response.getTransports ? cred.response.getTransports() : []
          }
        });
      }).then(function () {
        status.textContent = register.dataset.done;
        location.reload();
      }, function (err) {
        status.textContent = register.dataset.fail.replace("{e}", err.message || err);
        register.disabled = false;
      });
    });
  } else if (register) {
    register.hidden = true;
  }
  var passkeys = document.getElementById("passkeys");
  var mine = passkeys ? JSON.parse(passkeys.dataset.passkeys || "null") || [] : [];
  // Release buttons, delegated: the drafts region is refreshed live.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-release]");
    if (!btn) return;
    var status = btn.parentNode.querySelector(".release-status");
    btn.disabled = true;
    navigator.credentials.get({ publicKey: {
      challenge: fromB64url(btn.dataset.challenge),
      rpId: mine.length ? mine[0].rp_id : location.hostname,
      allowCredentials: mine.map(function (k) { return { type: "public-key", id: fromB64url(k.id.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")) }; }),
      userVerification: "required"
    } }).then(function (a) {
      return postJSON("/console/drafts/" + encodeURIComponent(btn.dataset.release) + "/release", {
        credential: toB64(a.rawId),
        auth_data: toB64(a.response.authenticatorData),
        client_data: toB64(a.response.clientDataJSON),
        sig: toB64(a.response.signature)
      });
    }).then(function () {
      location.reload();
    }, function (err) {
      status.textContent = btn.dataset.fail.replace("{e}", err.message || err);
      btn.disabled = false;
    });
  });

  // Calls: joined from a call's row (in a live region, refreshed on
  // events), then held in the on-call panel, which is outside the live
  // regions so that refreshes never touch the connection.
  var onCall = document.getElementById("on-call"), call = null;
  function callAPI(url, method, data) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: data ? JSON.stringify(data) : undefined
    }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || r.statusText);
        return j;
      });
    });
  }
  function gathered(pc) {
    return new Promise(function (resolve) {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") resolve();
      });
      setTimeout(resolve, 3000); // whatever was gathered by then
    });
  }
  function text(tag, s, cls) {
    var el = document.createElement(tag);
    el.textContent = s;
    if (cls) el.className = cls;
    return el;
  }
  function showLive() {
    if (!call) return;
    fetch(call.base + "/live", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (v) {
      if (!call || !v) return;
      var live = v.live || { members: [], links: [] };
      var ul = onCall.querySelector(".call-members");
      ul.textContent = "";
      (live.members || []).forEach(function (m) {
        var li = text("li", m.party + " · " + (m.interpreter ? onCall.dataset.interpreter : m.role) + (m.operator ? " (" + m.operator + ")" : ""));
        li.dataset.party = m.party;
        if (m.speaking) { li.className = "speaking"; li.appendChild(text("span", " · " + onCall.dataset.speaking, "speaking-mark")); }
        ul.appendChild(li);
      });
      var q = onCall.querySelector(".call-quality");
      q.textContent = "";
      (live.links || []).forEach(function (l) {
        q.appendChild(text("li", onCall.dataset.quality.replace("{party}", l.party).replace("{rtt}", l.rtt_ms.toFixed(1))
          .replace("{loss}", (100 * l.loss_rate).toFixed(1)).replace("{jitter}", l.jitter_ms.toFixed(1)).replace("{latency}", Math.round(l.latency_ms))));
      });
    }).catch(function () { /* the next poll tries again */ });
  }
  function hangUp() {
    if (!call) return;
    var c = call;
    call = null;
    window.hotlineCall = null;
    clearInterval(c.poll);
    callAPI(c.base + "/participants/" + encodeURIComponent(c.id), "DELETE").catch(function () {});
    c.pc.close();
    c.stream.getTracks().forEach(function (t) { t.stop(); });
    onCall.hidden = true;
    document.querySelectorAll("[data-join]").forEach(function (b) { b.disabled = false; });
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-join]");
    if (!btn || call || !onCall) return;
    var box = btn.closest("[data-call-join]"), status = box.querySelector(".join-status");
    if (Date.now() < Number(box.dataset.opens)) { status.textContent = btn.dataset.early; return; }
    btn.disabled = true;
    status.textContent = "";
    var as = box.querySelector("[data-join-as]").value;
    var interp = box.querySelector("[data-join-interpretation]").checked;
    var base = "/api/v1/channels/" + encodeURIComponent(box.dataset.channel) + "/calls/" + encodeURIComponent(box.dataset.call);
    var pc = new RTCPeerConnection(), stream = null;
    pc.ontrack = function (e) {
      onCall.querySelector(".call-audio").srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (s) {
      stream = s;
      s.getTracks().forEach(function (t) { pc.addTrack(t, s); });
      return pc.createOffer();
    }).then(function (o) { return pc.setLocalDescription(o); }).then(function () { return gathered(pc); }).then(function () {
      return callAPI(base + "/join", "POST", { sdp: pc.localDescription.sdp, as: as === "interpreter" ? "" : as,
        interpreter: as === "interpreter", listen: interp ? "interpretation" : "original" });
    }).then(function (j) {
      return pc.setRemoteDescription({ type: "answer", sdp: j.sdp }).then(function () { return j; });
    }).then(function (j) {
      call = { pc: pc, stream: stream, base: base, id: j.participant };
      window.hotlineCall = call; // tests read its statistics
      pc.addEventListener("connectionstatechange", function () {
        if (call && call.pc === pc && (pc.connectionState === "failed" || pc.connectionState === "closed")) hangUp();
      });
      onCall.hidden = false;
      onCall.querySelector(".on-call-status").textContent = j.recording ? onCall.dataset.recorded : "";
      onCall.querySelector("[data-listen-toggle]").checked = interp;
      var mute = onCall.querySelector("[data-mute-toggle]");
      mute.textContent = onCall.dataset.mute;
      mute.setAttribute("aria-pressed", "false");
      call.poll = setInterval(showLive, 1000);
      showLive();
    }).catch(function (err) {
      pc.close();
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      status.textContent = btn.dataset.fail.replace("{e}", err.message || err);
      btn.disabled = false;
    });
  });
  if (onCall) {
    onCall.querySelector("[data-leave]").addEventListener("click", hangUp);
    onCall.querySelector("[data-mute-toggle]").addEventListener("click", function (ev) {
      if (!call) return;
      var muted = ev.target.getAttribute("aria-pressed") !== "true";
      call.stream.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
      ev.target.setAttribute("aria-pressed", muted ? "true" : "false");
      ev.target.textContent = muted ? onCall.dataset.unmute : onCall.dataset.mute;
      onCall.querySelector(".on-call-status").textContent = muted ? onCall.dataset.muted : "";
    });
    onCall.querySelector("[data-listen-toggle]").addEventListener("change", function (ev) {
      if (!call) return;
      callAPI(call.base + "/participants/" + encodeURIComponent(call.id), "PUT", { listen: ev.target.checked ? "interpretation" : "original" }).catch(function () {});
    });
    window.addEventListener("pagehide", hangUp);
  }

  tick();
  setInterval(tick, 1000);
  watchUnread();
})();
