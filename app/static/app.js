/* Cessez-le-feu, the live room (room/_live.html): skip a message already shown, follow the conversation
   when at the bottom, reload when the server says so, empty the form after a post. No inline code (CSP). */
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

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var live = e.target;
    if (!isLive(live)) { return; }
    var m = /\bid="m-(\d+)"/.exec(e.detail.data || "");
    var seq = Number(m ? m[1] : e.detail.lastEventId);
    if (seq > 0) {
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

  function reload() { window.location.reload(); }
  document.addEventListener("htmx:sseOpen", function (e) {
    if (isLive(e.target) && e.detail.source) { e.detail.source.addEventListener("reload", reload); }
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
