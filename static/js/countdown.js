// The landing page's countdown ([data-countdown]): ticks the time left until the
// campaign starts, then until it ends. The server renders the first value, so the
// page reads right without this file; the server's clock (data-now) is trusted over
// the browser's, which may be off.
(function () {
  "use strict";

  function pad(value) { return value < 10 ? "0" + value : String(value); }

  function start(box) {
    if (box.countdownTimer) { return; }
    var startsAt = Date.parse(box.getAttribute("data-starts-at"));
    var endsAt = Date.parse(box.getAttribute("data-ends-at"));
    var skew = Date.parse(box.getAttribute("data-now")) - Date.now();
    if (isNaN(startsAt) || isNaN(endsAt)) { return; }
    if (isNaN(skew)) { skew = 0; }

    function show(unit, value) {
      var slot = box.querySelector('[data-unit="' + unit + '"]');
      if (slot) { slot.textContent = unit === "days" ? String(value) : pad(value); }
    }

    function tick() {
      if (!box.isConnected) { window.clearInterval(box.countdownTimer); return; }
      var now = Date.now() + skew;
      var phase = now < startsAt ? "before" : now < endsAt ? "running" : "ended";
      var left = Math.max(0, Math.floor(((phase === "before" ? startsAt : endsAt) - now) / 1000));
      if (phase === "ended") { left = 0; }
      box.setAttribute("data-phase-now", phase);
      box.querySelectorAll("[data-phase]").forEach(function (part) {
        var phases = part.getAttribute("data-phase").split(" ");
        part.hidden = phases.indexOf(phase) === -1;
      });
      show("days", Math.floor(left / 86400));
      show("hours", Math.floor(left % 86400 / 3600));
      show("minutes", Math.floor(left % 3600 / 60));
      show("seconds", left % 60);
      if (phase === "ended") { window.clearInterval(box.countdownTimer); }
    }

    box.countdownTimer = window.setInterval(tick, 1000);
    tick();
  }

  function init(element) {
    if (!element.querySelectorAll) { return; }
    if (element.matches("[data-countdown]")) { start(element); }
    element.querySelectorAll("[data-countdown]").forEach(start);
  }

  if (window.htmx) {
    window.htmx.onLoad(init);  // the first page and every swapped-in preview
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document.body); });
  } else {
    init(document.body);
  }
})();
