/* Live parts of Fluxplane's pages (controlplane/live.py): every element with data-live="<url>" and
   data-live-part="<name>" is fetched again every FLUXPLANE_LIVE_INTERVAL_MS (the page's
   <meta name="fluxplane-live-interval">) with the header X-Fluxplane-Live: <name>, and its content replaced by the
   fragment the server answers. A note above it says when it was last updated.

   - Paused while the tab is hidden; polled at once when it shows again.
   - Errors back off (interval × 2, × 4 … up to a minute); a 403/404 or a redirect (the session ended) stops it.
   - A part with a change token (data-live-token) is answered 204 while nothing changed.
   - Run pages: the fragment repeats the part's own element (same id) with data-active; "0" means the run ended and
     polling stops (a part rendered with data-active="0" is not polled at all). Open <details> stay open.
   - data-live-interval on the element overrides the page's interval (run pages follow their run every 2 s).
   - Not swapped while the user works in it: rows ticked for an admin action, focus in a field, a graph being
     dragged. Listeners can keep their state over a swap: "fluxplane:live-before" and "fluxplane:live-updated" are
     dispatched on the element (graph.js keeps the pan and zoom this way).
   A static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="fluxplane-live-interval"]');
  var INTERVAL = Math.max(Number(meta && meta.content) || 5000, 500);
  var MAX_DELAY = 60000;

  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function busy(el) {
    if (el.querySelector("input.action-select:checked, .fp-dragging")) { return true; }
    var active = document.activeElement;
    var typing = "input:not([type=checkbox]):not([type=radio]), select, textarea";
    return !!(active && active !== document.body && el.contains(active) && active.matches(typing));
  }

  function Live(el) {
    this.el = el;
    this.part = el.dataset.livePart || "";
    this.token = el.dataset.liveToken || "";
    this.last = Date.now();
    this.failures = 0;
    this.trouble = false;
    this.stopped = false;
    this.timer = null;
    this.note = document.createElement("p");
    this.interval = Math.max(Number(el.dataset.liveInterval) || INTERVAL, 500);
    this.note.className = "fp-live-status";
    this.note.dataset.livePart = this.part;
    el.parentNode.insertBefore(this.note, el);
    this.state = "";
    this.render();
    this.schedule(this.interval);
  }

  Live.prototype.swap = function (html) {
    var el = this.el;
    var open = {};
    el.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var same = el.id ? holder.querySelector("#" + CSS.escape(el.id)) : null;
    el.innerHTML = same ? same.innerHTML : html;
    if (same && same.dataset.active !== undefined) { el.dataset.active = same.dataset.active; }
    el.querySelectorAll("details[id]").forEach(function (d) { if (d.id in open) { d.open = open[d.id]; } });
  };

  Live.prototype.render = function () {
    var text = "updated " + ago(Date.now() - this.last);
    if (this.state) { text += " · " + this.state; }
    this.note.textContent = text;
    // a boolean always: toggle(name, undefined) would flip the class on every render
    this.note.classList.toggle("fp-live-trouble", this.failures > 0 || this.trouble === true);
  };

  Live.prototype.schedule = function (delay) {
    window.clearTimeout(this.timer);
    if (!this.stopped) { this.timer = window.setTimeout(this.poll.bind(this), delay); }
  };

  Live.prototype.stop = function (why, trouble) {
    this.stopped = true;
    this.trouble = !!trouble;
    this.state = why;
    window.clearTimeout(this.timer);
    this.render();
  };

  Live.prototype.poll = function () {
    var self = this;
    if (self.stopped) { return; }
    if (document.hidden) { self.state = "paused while the tab is hidden"; self.render(); return; }
    if (busy(self.el)) { self.state = "paused while you work here"; self.render(); self.schedule(self.interval); return; }
    var headers = { "X-Fluxplane-Live": self.part, "X-Requested-With": "fetch" };
    if (self.token) { headers["X-Fluxplane-Since"] = self.token; }
    fetch(self.el.dataset.live, { credentials: "same-origin", cache: "no-store", redirect: "manual",
                                  headers: headers })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          self.stop("signed out: reload the page", true); return null;
        }
        if (response.status === 403 || response.status === 404) {
          self.stop("no longer available: reload the page", true); return null;
        }
        if (response.status === 204) { return ""; }
        if (!response.ok || response.headers.get("X-Fluxplane-Live") !== self.part) {
          throw new Error("HTTP " + response.status);
        }
        var token = response.headers.get("X-Fluxplane-Token") || "";
        return response.text().then(function (html) { return { html: html, token: token }; });
      })
      .then(function (result) {
        if (result === null) { return; }
        self.failures = 0;
        if (result && busy(self.el)) {  // the user started working here meanwhile: keep their state, try later
          self.state = "paused while you work here";
          self.render();
          self.schedule(self.interval);
          return;
        }
        if (result) {
          self.el.dispatchEvent(new CustomEvent("fluxplane:live-before", { bubbles: true }));
          self.swap(result.html);
          self.token = result.token;
          self.el.dataset.liveToken = self.token;
          if (window.Actions && self.el.querySelector("tr input.action-select")) {
            // Django's actions.js holds the old checkboxes: hand it the new ones (select all, the counter).
            window.Actions(self.el.querySelectorAll("tr input.action-select"));
          }
          self.el.dispatchEvent(new CustomEvent("fluxplane:live-updated", { bubbles: true }));
        }
        self.last = Date.now();
        self.state = "";
        if (self.el.dataset.active === "0") { self.stop("finished"); return; }
        self.render();
        self.schedule(self.interval);
      })
      .catch(function () {
        self.failures += 1;
        var delay = Math.min(self.interval * Math.pow(2, self.failures), MAX_DELAY);
        self.state = "update failed, trying again in " + Math.round(delay / 1000) + " s";
        self.render();
        self.schedule(delay);
      });
  };

  var parts = [];
  function init() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      if (el.dataset.active !== "0") { parts.push(new Live(el)); }
    });
    if (!parts.length) { return; }
    window.setInterval(function () { parts.forEach(function (p) { p.render(); }); }, 1000);
    document.addEventListener("visibilitychange", function () {
      parts.forEach(function (p) {
        if (document.hidden) {
          window.clearTimeout(p.timer);
          p.state = "paused while the tab is hidden";
          p.render();
        } else if (!p.stopped) {
          p.state = "";
          p.poll();
        }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
