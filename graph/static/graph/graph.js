// Pan, zoom and fit for the Graphviz SVGs on Fluxplane's pages (no inline script: the CSP allows only our files).
// Each .fp-graph box gets a small toolbar; the wheel zooms around the pointer, dragging pans, "Fit" shows it all.
// When live.js swaps in a newer graph (the mirror changed), the new drawing opens at the pan and zoom the user had.
(function () {
  "use strict";

  function setup(box, saved) {
    var svg = box.querySelector("svg");
    if (!svg || box.dataset.fpZoom) { return; }
    box.dataset.fpZoom = "1";
    var base = svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width ? svg.viewBox.baseVal : null;
    if (!base) { return; }
    var full = { x: base.x, y: base.y, w: base.width, h: base.height };
    var view = { x: full.x, y: full.y, w: full.w, h: full.h };
    // Graphviz's own size (pt, read in px): the box is never taller than the graph, and "Fit" never enlarges it.
    var natural = { w: svg.width.baseVal.value || full.w, h: svg.height.baseVal.value || full.h };
    box.style.height = Math.min(natural.h + 16, window.innerHeight * 0.7) + "px";
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.classList.add("fp-zoomable");

    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
      box.dataset.zoom = (full.w / view.w).toFixed(2);
      box.fpView = { view: { x: view.x, y: view.y, w: view.w, h: view.h }, fitted: fitted };
    }
    function zoom(factor, cx, cy) {
      var w = Math.min(Math.max(view.w * factor, full.w / 40), Math.max(full.w * 4, fitted * 2));
      var h = view.h * (w / view.w);
      view.x = cx - (cx - view.x) * (w / view.w);
      view.y = cy - (cy - view.y) * (h / view.h);
      view.w = w; view.h = h;
      apply();
    }
    var fitted = full.w;
    function fit() {
      var rect = box.getBoundingClientRect();
      var scale = Math.min(rect.width / natural.w, rect.height / natural.h, 1);  // px per graph px, at most 1:1
      var w = (rect.width / scale) * (full.w / natural.w), h = (rect.height / scale) * (full.h / natural.h);
      view = { x: full.x - (w - full.w) / 2, y: full.y - (h - full.h) / 2, w: w, h: h };
      fitted = w;
      apply();
    }
    function toSvg(evt) {
      var rect = svg.getBoundingClientRect();
      var scale = Math.max(view.w / rect.width, view.h / rect.height);
      var offX = (rect.width * scale - view.w) / 2, offY = (rect.height * scale - view.h) / 2;
      return { x: view.x - offX + (evt.clientX - rect.left) * scale, y: view.y - offY + (evt.clientY - rect.top) * scale,
               scale: scale };
    }

    var bar = document.createElement("div");
    bar.className = "fp-graph-tools";
    [["+", "Zoom in", function () { zoom(0.8, view.x + view.w / 2, view.y + view.h / 2); }],
     ["−", "Zoom out", function () { zoom(1.25, view.x + view.w / 2, view.y + view.h / 2); }],
     ["Fit", "Show the whole graph", fit]].forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = spec[0];
      button.title = spec[1];
      button.className = "fp-graph-" + (spec[0] === "Fit" ? "fit" : spec[0] === "+" ? "in" : "out");
      button.addEventListener("click", spec[2]);
      bar.appendChild(button);
    });
    var hint = document.createElement("span");
    hint.textContent = "wheel to zoom, drag to move";
    bar.appendChild(hint);
    box.parentNode.insertBefore(bar, box);

    box.addEventListener("wheel", function (evt) {
      evt.preventDefault();
      var p = toSvg(evt);
      zoom(evt.deltaY < 0 ? 0.85 : 1 / 0.85, p.x, p.y);
    }, { passive: false });
    var drag = null;
    box.addEventListener("pointerdown", function (evt) {
      if (evt.target.closest("a")) { return; }  // a click on a node opens it
      drag = { x: evt.clientX, y: evt.clientY, view: { x: view.x, y: view.y }, scale: toSvg(evt).scale };
      box.setPointerCapture(evt.pointerId);
      box.classList.add("fp-dragging");
    });
    box.addEventListener("pointermove", function (evt) {
      if (!drag) { return; }
      view.x = drag.view.x - (evt.clientX - drag.x) * drag.scale;
      view.y = drag.view.y - (evt.clientY - drag.y) * drag.scale;
      apply();
    });
    function stop() { drag = null; box.classList.remove("fp-dragging"); }
    box.addEventListener("pointerup", stop);
    box.addEventListener("pointercancel", stop);
    if (saved) {
      view = saved.view;
      fitted = saved.fitted;
      apply();
    } else {
      fit();
    }
  }

  function init() { document.querySelectorAll(".fp-graph").forEach(function (box) { setup(box); }); }
  document.addEventListener("fluxplane:live-before", function (evt) {
    evt.target.fpSavedViews = Array.prototype.map.call(evt.target.querySelectorAll(".fp-graph"),
                                                      function (box) { return box.fpView || null; });
  });
  document.addEventListener("fluxplane:live-updated", function (evt) {
    var saved = evt.target.fpSavedViews || [];
    evt.target.querySelectorAll(".fp-graph").forEach(function (box, i) { setup(box, saved[i]); });
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
