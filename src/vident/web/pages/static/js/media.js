/* The media detail and compare pages.
 *
 * Detail (#viewer): the preview zooms and pans (+ / - / 0 keys, arrow keys on the focused
 * preview, the mouse wheel, dragging), `r` reveals it, boxes of faces, text and clues are
 * placed from their data-x/y/w/h (pixels of the full picture; the CSP forbids style
 * attributes, so they are positioned here), and a box drawn over the preview (or typed in
 * the form) searches that part of the picture or records a clue through the API.
 * Video (#frame-strip): each keyframe preview has its own reveal button (data-reveal-frame).
 * Compare (#pair): the keypoint pairs of its data-drawing attribute are drawn as lines
 * between the two previews. Every text from the server is set as textContent, never markup.
 */
(function () {
  "use strict";

  var MAX_ZOOM = 8;
  var PAN_STEP = 40;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function num(element, name) {
    return Number(element.getAttribute(name)) || 0;
  }

  function percent(value) {
    return (Math.round(value * 10000) / 100) + "%";
  }

  /* ---- the detail page ---------------------------------------------------------------- */

  function setupViewer(viewer) {
    var stage = document.getElementById("stage");
    var canvas = document.getElementById("canvas");
    var img = document.getElementById("preview");
    var drawn = document.getElementById("drawn");
    var drawToggle = document.getElementById("draw-toggle");
    var form = document.getElementById("region");
    var width = num(viewer, "data-width");
    var height = num(viewer, "data-height");
    var zoom = 1;
    var panX = 0;
    var panY = 0;
    var drawing = false;

    function place(box, x, y, w, h) {
      box.style.left = percent(x / width);
      box.style.top = percent(y / height);
      box.style.width = percent(w / width);
      box.style.height = percent(h / height);
    }

    Array.prototype.forEach.call(canvas.querySelectorAll("[data-box]"), function (box) {
      place(box, num(box, "data-x"), num(box, "data-y"), num(box, "data-w"), num(box, "data-h"));
    });

    function apply() {
      var w = stage.clientWidth;
      var h = stage.clientHeight;
      panX = Math.min(0, Math.max(w - w * zoom, panX));
      panY = Math.min(0, Math.max(h - h * zoom, panY));
      canvas.style.transform = "translate(" + panX + "px, " + panY + "px) scale(" + zoom + ")";
      stage.setAttribute("data-zoom", String(Math.round(zoom * 100) / 100));
      stage.setAttribute("data-pan-x", String(Math.round(panX)));
      stage.setAttribute("data-pan-y", String(Math.round(panY)));
    }

    function zoomAt(factor, cx, cy) {
      var next = Math.min(MAX_ZOOM, Math.max(1, zoom * factor));
      if (cx === undefined) {
        cx = stage.clientWidth / 2;
        cy = stage.clientHeight / 2;
      }
      // Keep the point under (cx, cy) where it is.
      panX = cx - (cx - panX) * (next / zoom);
      panY = cy - (cy - panY) * (next / zoom);
      zoom = next;
      apply();
    }

    function reset() {
      zoom = 1;
      panX = 0;
      panY = 0;
      apply();
    }

    function pan(dx, dy) {
      panX += dx;
      panY += dy;
      apply();
    }

    function toggleReveal() {
      var on = img.getAttribute("data-revealed") !== "true";
      window.vident.reveal(img, on);
      var button = document.getElementById("reveal");
      if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
    }

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      var key = event.key;
      if (key === "r" || key === "R") {
        toggleReveal();
      } else if (key === "+" || key === "=") {
        zoomAt(1.25);
      } else if (key === "-" || key === "_") {
        zoomAt(0.8);
      } else if (key === "0") {
        reset();
      } else if (event.target === stage && key === "ArrowLeft") {
        pan(PAN_STEP, 0);
      } else if (event.target === stage && key === "ArrowRight") {
        pan(-PAN_STEP, 0);
      } else if (event.target === stage && key === "ArrowUp") {
        pan(0, PAN_STEP);
      } else if (event.target === stage && key === "ArrowDown") {
        pan(0, -PAN_STEP);
      } else {
        return;
      }
      event.preventDefault();
    });

    stage.addEventListener("wheel", function (event) {
      event.preventDefault();
      var rect = stage.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });

    Array.prototype.forEach.call(viewer.querySelectorAll("[data-zoom-step]"), function (button) {
      button.addEventListener("click", function () {
        var step = Number(button.getAttribute("data-zoom-step"));
        if (step > 0) zoomAt(1.25);
        else if (step < 0) zoomAt(0.8);
        else reset();
      });
    });

    var boxes = document.getElementById("show-boxes");
    if (boxes) {
      boxes.addEventListener("change", function () {
        stage.classList.toggle("boxes-off", !boxes.checked);
      });
    }

    if (drawToggle) {
      drawToggle.addEventListener("click", function () {
        drawing = !drawing;
        drawToggle.setAttribute("aria-pressed", drawing ? "true" : "false");
        stage.classList.toggle("drawing", drawing);
      });
    }

    /* The picture pixel under a pointer, clamped to the picture. */
    function pictureAt(event) {
      var rect = img.getBoundingClientRect();
      var fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
      var fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
      return { x: fx * width, y: fy * height };
    }

    function showDrawn(x, y, w, h) {
      if (!drawn) return;
      if (w <= 0 || h <= 0) {
        drawn.hidden = true;
        return;
      }
      place(drawn, x, y, w, h);
      drawn.hidden = false;
    }

    function setFields(x, y, w, h) {
      if (!form) return;
      form.elements.x.value = String(Math.round(x));
      form.elements.y.value = String(Math.round(y));
      form.elements.w.value = String(Math.max(1, Math.round(w)));
      form.elements.h.value = String(Math.max(1, Math.round(h)));
    }

    var drag = null;
    stage.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      stage.setPointerCapture(event.pointerId);
      if (drawing) {
        var start = pictureAt(event);
        drag = { kind: "box", x0: start.x, y0: start.y };
        showDrawn(start.x, start.y, 0, 0);
      } else {
        drag = { kind: "pan", x: event.clientX, y: event.clientY };
      }
      event.preventDefault();
    });

    stage.addEventListener("pointermove", function (event) {
      if (!drag) return;
      if (drag.kind === "pan") {
        pan(event.clientX - drag.x, event.clientY - drag.y);
        drag.x = event.clientX;
        drag.y = event.clientY;
        return;
      }
      var at = pictureAt(event);
      var x = Math.min(drag.x0, at.x);
      var y = Math.min(drag.y0, at.y);
      showDrawn(x, y, Math.abs(at.x - drag.x0), Math.abs(at.y - drag.y0));
    });

    function finish(event) {
      if (!drag) return;
      if (drag.kind === "box") {
        var at = pictureAt(event);
        var x = Math.min(drag.x0, at.x);
        var y = Math.min(drag.y0, at.y);
        var w = Math.abs(at.x - drag.x0);
        var h = Math.abs(at.y - drag.y0);
        if (w >= 1 && h >= 1) {
          setFields(x, y, w, h);
          showDrawn(x, y, w, h);
          window.vident.flash(window.vident.t("media.box-drawn", {
            x: Math.round(x), y: Math.round(y), w: Math.round(w), h: Math.round(h),
          }));
        }
      }
      drag = null;
    }
    stage.addEventListener("pointerup", finish);
    stage.addEventListener("pointercancel", function () { drag = null; });

    if (form) setupRegion(form, img, width, height, showDrawn);
    window.addEventListener("resize", apply);
    apply();
  }

  function fieldNumbers(form) {
    return ["x", "y", "w", "h"].map(function (name) { return Number(form.elements[name].value); });
  }

  function showError(form, message) {
    var box = form.querySelector("[data-error]");
    box.textContent = message;
    box.hidden = false;
  }

  function tile(link, query) {
    var item = document.createElement("li");
    var figure = document.createElement("figure");
    figure.className = "tile";
    figure.setAttribute("data-media", "");
    var anchor = document.createElement("a");
    anchor.href = "/media/" + encodeURIComponent(link.sha256);
    var picture = document.createElement("img");
    picture.setAttribute("data-sha", link.sha256);
    picture.src = "/api/v1/media/" + encodeURIComponent(link.sha256) + "/preview";
    picture.alt = window.vident.t("media.preview-of", { name: link.path });
    anchor.appendChild(picture);
    figure.appendChild(anchor);
    var caption = document.createElement("figcaption");
    caption.appendChild(document.createTextNode(link.by + " · " + link.score.toFixed(2)));
    caption.appendChild(document.createElement("br"));
    var path = document.createElement("span");
    path.className = "path";
    path.textContent = link.path;
    caption.appendChild(path);
    caption.appendChild(document.createElement("br"));
    var compare = document.createElement("a");
    compare.href = "/compare?a=" + encodeURIComponent(query) + "&b=" + encodeURIComponent(link.sha256);
    compare.textContent = window.vident.t("media.compare");
    caption.appendChild(compare);
    figure.appendChild(caption);
    item.appendChild(figure);
    return item;
  }

  function setupRegion(form, img, width, height, showDrawn) {
    var sha = form.getAttribute("data-sha");
    var viewer = document.getElementById("viewer");
    var previewWidth = num(viewer, "data-preview-width") || width;
    var previewHeight = num(viewer, "data-preview-height") || height;

    form.addEventListener("input", function () {
      var v = fieldNumbers(form);
      showDrawn(v[0], v[1], v[2], v[3]);
    });

    function searchRegion(v) {
      var results = document.getElementById("region-results");
      var status = document.getElementById("region-status");
      var tiles = document.getElementById("region-tiles");
      // The box in pixels of the preview, which is what is sent: the picture's own pixels
      // never leave the server, and the preview is all the browser may have.
      var sx = previewWidth / width;
      var sy = previewHeight / height;
      var x = Math.min(previewWidth - 1, Math.floor(v[0] * sx));
      var y = Math.min(previewHeight - 1, Math.floor(v[1] * sy));
      var w = Math.max(1, Math.min(previewWidth - x, Math.round(v[2] * sx)));
      var h = Math.max(1, Math.min(previewHeight - y, Math.round(v[3] * sy)));
      results.hidden = false;
      status.textContent = window.vident.t("media.searching");
      while (tiles.firstChild) tiles.removeChild(tiles.firstChild);
      return fetch("/api/v1/media/" + encodeURIComponent(sha) + "/preview?reveal=true", {
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) {
          throw new Error(window.vident.t("media.preview-unread", { status: response.status }));
        }
        return response.blob();
      }).then(function (blob) {
        var body = new FormData();
        body.append("file", blob, "region.jpg");
        var by = form.elements.by ? form.elements.by.value : "pdq";
        var url = "/api/v1/similar?top=12&x=" + x + "&y=" + y + "&w=" + w + "&h=" + h +
          (by ? "&by=" + encodeURIComponent(by) : "");
        return window.vident.api("POST", url, body);
      }).then(function (data) {
        var found = (data.results || []).filter(function (link) { return link.sha256 !== sha; });
        status.textContent = found.length === 1
          ? window.vident.t("media.result-one", { n: found.length })
          : window.vident.t("media.results", { n: found.length });
        status.setAttribute("data-count", String(found.length));
        found.forEach(function (link) { tiles.appendChild(tile(link, sha)); });
      });
    }

    function addClue(v) {
      var note = form.elements.note.value.trim();
      var body = {
        sha256: sha,
        kind: form.elements.kind.value,
        box: [Math.round(v[0]), Math.round(v[1]), Math.max(1, Math.round(v[2])),
          Math.max(1, Math.round(v[3]))],
      };
      if (note) body.note = note;
      return window.vident.api("POST", "/api/v1/clues", body).then(function () {
        window.location.reload();
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submitter = event.submitter;
      var action = submitter ? submitter.value : "similar";
      var v = fieldNumbers(form);
      if (v[0] + v[2] > width || v[1] + v[3] > height) {
        showError(form, window.vident.t("media.box-outside", { w: width, h: height }));
        return;
      }
      form.querySelector("[data-error]").hidden = true;
      if (submitter) submitter.disabled = true;
      var done = action === "clue" ? addClue(v) : searchRegion(v);
      done.catch(function (error) {
        showError(form, error.message);
      }).then(function () {
        if (submitter) submitter.disabled = false;
      });
    });
  }

  /* ---- the compare page --------------------------------------------------------------- */

  var SVG = "http://www.w3.org/2000/svg";

  function setupPair(pair) {
    var svg = pair.querySelector("svg.links");
    var imgA = document.getElementById("img-a");
    var imgB = document.getElementById("img-b");
    var drawing;
    try {
      drawing = JSON.parse(svg.getAttribute("data-drawing") || "{}");
    } catch (_error) {
      drawing = {};
    }
    var pairs = drawing.pairs || [];

    function ready(img) {
      return img && img.complete && img.naturalWidth > 0;
    }

    function draw() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      svg.setAttribute("data-lines", "0");
      if (!ready(imgA) || !ready(imgB) || !drawing.a_size || !drawing.b_size) return;
      var box = pair.getBoundingClientRect();
      var ra = imgA.getBoundingClientRect();
      var rb = imgB.getBoundingClientRect();
      svg.setAttribute("viewBox", "0 0 " + box.width + " " + box.height);
      var sa = ra.width / drawing.a_size[0];
      var sb = rb.width / drawing.b_size[0];
      pairs.forEach(function (p) {
        var x1 = ra.left - box.left + p[0] * sa;
        var y1 = ra.top - box.top + p[1] * sa;
        var x2 = rb.left - box.left + p[2] * sb;
        var y2 = rb.top - box.top + p[3] * sb;
        var line = document.createElementNS(SVG, "line");
        line.setAttribute("x1", x1.toFixed(1));
        line.setAttribute("y1", y1.toFixed(1));
        line.setAttribute("x2", x2.toFixed(1));
        line.setAttribute("y2", y2.toFixed(1));
        svg.appendChild(line);
        [[x1, y1], [x2, y2]].forEach(function (c) {
          var dot = document.createElementNS(SVG, "circle");
          dot.setAttribute("cx", c[0].toFixed(1));
          dot.setAttribute("cy", c[1].toFixed(1));
          dot.setAttribute("r", "2");
          svg.appendChild(dot);
        });
      });
      svg.setAttribute("data-lines", String(pairs.length));
    }

    [imgA, imgB].forEach(function (img) {
      if (img) img.addEventListener("load", draw);
    });
    var toggle = document.getElementById("show-lines");
    if (toggle) {
      toggle.addEventListener("change", function () {
        svg.classList.toggle("off", !toggle.checked);
      });
    }
    window.addEventListener("resize", draw);
    draw();
  }

  /* ---- a video's keyframe strip ------------------------------------------------------- */

  // Each keyframe is revealed on its own (an audited reveal) and veiled again the same way.
  function setupStrip(strip) {
    strip.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-reveal-frame]") : null;
      if (!button) return;
      var img = document.getElementById(button.getAttribute("data-reveal-frame"));
      if (!img) return;
      var veiled = img.getAttribute("data-frame-src");
      var on = img.getAttribute("data-revealed") !== "true";
      var wanted = on ? veiled + "?reveal=true" : veiled;
      if (img.getAttribute("src") !== wanted) img.setAttribute("src", wanted);
      img.setAttribute("data-revealed", on ? "true" : "false");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      var holder = img.closest("[data-frame-holder]");
      if (holder) holder.classList.toggle("revealed", on);
    });
  }

  function start() {
    var viewer = document.getElementById("viewer");
    if (viewer) setupViewer(viewer);
    var strip = document.getElementById("frame-strip");
    if (strip) setupStrip(strip);
    var pair = document.getElementById("pair");
    if (pair) setupPair(pair);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
