/* Cessez-le-feu, the live room (room/_live.html): skip a message already shown, follow the conversation
   when at the bottom, swap a message the mediator hid ("changed"), tell the server how far a visible page has
   read (read marks), reload when the server says so, empty the form after a post. No inline code (CSP). */
(function () {
  "use strict";
  if (window.clfLive) { return; }  // a boosted visit may run this file again
  window.clfLive = true;

  function isLive(el) { return el && el.hasAttribute && el.hasAttribute("data-live"); }

  function scroller(el) {
    for (; el && el !== document.body; el = el.parentElement) {
      var y = getComputedStyle(el).overflowY;
      if ((y === "auto" || y === "scroll") && el.scrollHeight > el.clientHeight) { return el; }
    }
    return document.scrollingElement || document.documentElement;
  }

  // Read marks: the highest seq that arrived live, sent while the page is visible, one request per few seconds
  // at most (POST /spaces/{id}/read: the server only moves the mark forward, up to the space's last message).
  var READ_EVERY_MS = 3000;

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (err) { return ""; }
  }

  function sendRead(live) {
    if (live.clfReadTimer || !(live.clfSeen > (live.clfRead || 0)) || document.visibilityState !== "visible") {
      return;
    }
    var wait = Math.max(0, (live.clfReadAt || 0) + READ_EVERY_MS - Date.now());
    live.clfReadTimer = window.setTimeout(function () {
      live.clfReadTimer = null;
      var seq = live.clfSeen, url = live.getAttribute("data-read");
      if (!url || !document.body.contains(live) || document.visibilityState !== "visible" ||
          !(seq > (live.clfRead || 0))) { return; }
      live.clfRead = seq;
      live.clfReadAt = Date.now();
      fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": csrfToken()},
        body: "seq=" + seq
      }).catch(function () {});  // lost: the next message (or the next page view) moves the mark
    }, wait);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") { return; }
    var nodes = document.querySelectorAll("[data-live]");
    for (var i = 0; i < nodes.length; i++) { sendRead(nodes[i]); }
  });

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var live = e.target;
    if (!isLive(live)) { return; }
    var m = /\bid="m-(\d+)"/.exec(e.detail.data || "");
    var seq = Number(m ? m[1] : e.detail.lastEventId);
    if (seq > 0) {
      live.clfSeen = Math.max(live.clfSeen || 0, seq);
      sendRead(live);
      // a new EventSource (after a failed one) resumes here; the browser's own reconnects send Last-Event-ID
      var url = live.getAttribute("sse-connect"), a = /([?&]after=)(\d+)/.exec(url);
      if (a && Number(a[2]) < seq) { live.setAttribute("sse-connect", url.replace(a[0], a[1] + seq)); }
      if (live.parentElement.querySelector('[id="m-' + seq + '"]')) { e.preventDefault(); return; }
    }
    var box = scroller(live.parentElement);
    live.clfFollow = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  });

  document.addEventListener("htmx:sseMessage", function (e) {
    if (isLive(e.target) && e.target.clfFollow) {
      var box = scroller(e.target.parentElement);
      box.scrollTop = box.scrollHeight;
    }
  });

  // "changed" (no id: the resume point stays): a message shown here was hidden; its new version replaces it.
  function onChanged(live) {
    return function (e) {
      var m = /^\s*<article id="m-(\d+)"/.exec(e.data || "");
      var old = m && live.parentElement && live.parentElement.querySelector('[id="m-' + m[1] + '"]');
      if (!old) { return; }  // not on this page: it comes (already changed) with the messages, or on a reload
      var template = document.createElement("template");
      template.innerHTML = e.data;
      var fresh = template.content.firstElementChild;
      if (!fresh) { return; }
      old.replaceWith(fresh);
      if (window.htmx) { htmx.process(fresh); }
    };
  }

  function reload() { window.location.reload(); }
  document.addEventListener("htmx:sseOpen", function (e) {
    var live = e.target, source = e.detail.source;
    if (!isLive(live) || !source) { return; }
    live.clfOnChanged = live.clfOnChanged || onChanged(live);  // the same listener: adding it again is a no-op
    source.addEventListener("reload", reload);
    source.addEventListener("changed", live.clfOnChanged);
  });

  // A form answered 204 (or marked data-reset-on-success): empty it, with a new idempotency key.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!e.detail.successful || !form || form.tagName !== "FORM" ||
        (e.detail.xhr.status !== 204 && !form.hasAttribute("data-reset-on-success"))) { return; }
    form.reset();
    var key = form.querySelector('input[name="client_key"]'), bytes = new Uint8Array(16);
    if (key) {
      crypto.getRandomValues(bytes);
      key.value = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
  });

  // A boosted visit processed the live list before the SSE extension was loaded: a changed (non-empty)
  // attribute makes htmx initialise it again. On a full page load htmx has processed nothing yet.
  if (document.readyState === "complete" && window.htmx) {
    var nodes = document.querySelectorAll("[data-live]");
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute("data-live-on", "1");
      htmx.process(nodes[i]);
    }
  }
})();
