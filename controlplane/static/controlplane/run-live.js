/* Live part of a run's page: while the run (or its change) is active, fetch the fragment at data-url every
   data-interval ms and swap it in. Paused while the tab is hidden; stops once the server says it is no longer
   active. A static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  var box = document.getElementById("fp-run-live");
  if (!box || !box.dataset.url) { return; }
  var interval = Number(box.dataset.interval || 2000);
  var lastUpdate = Date.now();

  function schedule() { window.setTimeout(poll, interval); }

  function poll() {
    if (box.dataset.active !== "1") { return; }
    if (document.hidden) { schedule(); return; }
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#fp-run-live");
          if (fresh) {
            var open = {};
            box.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
            box.innerHTML = fresh.innerHTML;
            box.querySelectorAll("details[id]").forEach(function (d) {
              if (d.id in open) { d.open = open[d.id]; }
            });
            box.dataset.active = fresh.dataset.active;
            lastUpdate = Date.now();
          }
        }
      })
      .catch(function () { /* a failed poll is retried at the next interval */ })
      .then(function () {
        var note = box.querySelector(".fp-live-note");
        if (note) { note.textContent = "updated " + Math.round((Date.now() - lastUpdate) / 1000) + " s ago"; }
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && box.dataset.active === "1") { poll(); }
  });
  if (box.dataset.active === "1") { schedule(); }
}());
