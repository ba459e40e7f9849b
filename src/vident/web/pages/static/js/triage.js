/* The triage grid: roving focus over the tiles, reveal while focused, selection, number keys
 * that vote a category, stacks of known series that expand, and the selection's toolbar.
 *
 * Every change goes through the REST API (vident.api) and updates the tile in place; what
 * happened is announced through vident.flash. Messages come from the page (vident.t), so
 * they are translated with the rest of it.
 */
(function () {
  "use strict";

  var grid = document.querySelector("[data-triage]");
  if (!grid || !window.vident) return;
  var vident = window.vident;
  var canEdit = grid.getAttribute("data-can-edit") === "true";
  var scheme = grid.getAttribute("data-scheme") || "";
  var categories = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-category-keys] [data-key]"),
    function (item) {
      categories[item.getAttribute("data-key")] = item.getAttribute("data-category");
    });

  function tiles() {
    return Array.prototype.filter.call(grid.querySelectorAll("[data-tile]"), function (tile) {
      return !tile.hidden;
    });
  }

  function imageOf(tile) {
    return tile.querySelector("img[data-sha]");
  }

  function veil(tile) {
    var img = imageOf(tile);
    if (img && img.getAttribute("data-revealed") === "true") vident.reveal(img, false);
  }

  function label(tile) {
    var base = tile.getAttribute("data-label");
    if (base === null) {
      base = tile.getAttribute("aria-label") || "";
      tile.setAttribute("data-label", base);
    }
    if (tile.getAttribute("data-reviewed") === "true") base += ", " + vident.t("triage.reviewed");
    var selected = tile.getAttribute("data-selected") === "true";
    tile.setAttribute("aria-label", selected ? base + ", " + vident.t("triage.selected") : base);
  }

  function focusTile(tile) {
    if (!tile) return;
    tiles().forEach(function (other) { other.setAttribute("tabindex", "-1"); });
    tile.setAttribute("tabindex", "0");
    tile.focus();
  }

  function centre(tile) {
    var box = tile.getBoundingClientRect();
    return { x: box.left + box.width / 2, top: box.top };
  }

  /* The tile in the next row up or down (direction -1 or 1) nearest in x. */
  function vertical(from, direction) {
    var here = centre(from);
    var below = tiles().map(function (tile) {
      var there = centre(tile);
      return { tile: tile, dy: (there.top - here.top) * direction, dx: Math.abs(there.x - here.x) };
    }).filter(function (entry) { return entry.dy > 4; });
    if (!below.length) return null;
    var row = Math.min.apply(null, below.map(function (entry) { return entry.dy; }));
    var best = null;
    below.forEach(function (entry) {
      if (entry.dy - row <= 4 && (best === null || entry.dx < best.dx)) best = entry;
    });
    return best.tile;
  }

  function selectedTiles() {
    return tiles().filter(function (tile) {
      return tile.getAttribute("data-selected") === "true";
    });
  }

  function showCount() {
    var box = document.querySelector("[data-selected-count]");
    if (!box) return;
    var n = selectedTiles().length;
    box.textContent = n ? vident.t("triage.count", { n: n }) : vident.t("triage.none");
  }

  function toggleSelection(tile) {
    if (!tile.hasAttribute("data-sha")) return;
    var on = tile.getAttribute("data-selected") !== "true";
    tile.setAttribute("data-selected", on ? "true" : "false");
    tile.classList.toggle("selected", on);
    label(tile);
    showCount();
    vident.flash(on
      ? vident.t("triage.selected-one", { name: tile.getAttribute("data-path") })
      : vident.t("triage.unselected-one", { name: tile.getAttribute("data-path") }));
  }

  function toggleStack(stack) {
    var series = stack.getAttribute("data-stack");
    var button = stack.querySelector("[data-expand]");
    var open = !(button && button.getAttribute("aria-expanded") === "true");
    Array.prototype.forEach.call(grid.querySelectorAll("[data-member-of]"), function (member) {
      if (member.getAttribute("data-member-of") === series) {
        member.hidden = !open;
        if (!open) veil(member);
      }
    });
    if (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? vident.t("triage.hide") : vident.t("triage.show");
    }
    vident.flash(open
      ? vident.t("triage.expanded", { series: series })
      : vident.t("triage.collapsed", { series: series }));
  }

  /* The focused tile and every selected one: what the keys and the toolbar act on. */
  function targets(focused) {
    var chosen = selectedTiles();
    if (focused && focused.hasAttribute("data-sha") && chosen.indexOf(focused) < 0) {
      chosen.push(focused);
    }
    return chosen;
  }

  function readOnly() {
    vident.flash(vident.t("triage.readonly"));
  }

  function each(list, work) {
    /* Run work(tile) for each tile one after the other; resolve to how many succeeded. */
    var done = 0;
    var failure = null;
    return list.reduce(function (chain, tile) {
      return chain.then(function () {
        return work(tile).then(function () { done += 1; }, function (error) {
          failure = error;
        });
      });
    }, Promise.resolve()).then(function () {
      return { done: done, failure: failure };
    });
  }

  function categorise(list, category) {
    if (!canEdit) { readOnly(); return; }
    if (!list.length) { vident.flash(vident.t("triage.nothing")); return; }
    each(list, function (tile) {
      var sha = tile.getAttribute("data-sha");
      return vident.api("POST", "/api/v1/media/" + sha + "/votes",
        { scheme: scheme, category: category })
        .then(function (answer) {
          tile.classList.add("voted");
          tile.querySelector("[data-my-vote]").textContent = vident.t("triage.my-vote", { category: category });
          var agreed = tile.querySelector("[data-category]");
          if (answer && answer.agreed) {
            agreed.textContent = vident.t("triage.category", { category: answer.agreed });
          }
        });
    }).then(function (outcome) {
      var text = vident.t("triage.voted", { category: category, n: outcome.done });
      if (outcome.failure) text += " " + outcome.failure.message;
      vident.flash(text);
    });
  }

  function showReviewed(tile, on) {
    tile.setAttribute("data-reviewed", on ? "true" : "false");
    tile.classList.toggle("reviewed", on);
    var mark = tile.querySelector("[data-reviewed-mark]");
    if (mark) mark.textContent = on ? vident.t("triage.reviewed") : "";
    label(tile);
  }

  /* Mark the tiles reviewed (on) or not, in one request; each tile shows what the answer says. */
  function review(list, on) {
    if (!canEdit) { readOnly(); return; }
    if (!list.length) { vident.flash(vident.t("triage.nothing")); return; }
    var bySha = {};
    list.forEach(function (tile) { bySha[tile.getAttribute("data-sha")] = tile; });
    vident.api("POST", "/api/v1/reviews", { sha256: Object.keys(bySha), reviewed: on })
      .then(function (answer) {
        var changed = 0;
        (answer && answer.reviews || []).forEach(function (item) {
          var tile = bySha[item.sha256];
          if (!tile) return;
          showReviewed(tile, item.reviewed);
          if (item.reviewed === on) changed += 1;
        });
        vident.flash(on
          ? vident.t("triage.marked", { n: changed })
          : vident.t("triage.unmarked", { n: changed }));
      }, function (error) {
        vident.flash(error.message);
      });
  }

  grid.addEventListener("keydown", function (event) {
    var tile = event.target.closest ? event.target.closest("[data-tile]") : null;
    if (!tile || event.ctrlKey || event.altKey || event.metaKey) return;
    var list = tiles();
    var index = list.indexOf(tile);
    var key = event.key;
    var onTile = event.target === tile;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      event.preventDefault();
      focusTile(list[index + (key === "ArrowRight" ? 1 : -1)]);
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      focusTile(vertical(tile, key === "ArrowDown" ? 1 : -1));
    } else if (key === "Home" || key === "End") {
      event.preventDefault();
      focusTile(key === "Home" ? list[0] : list[list.length - 1]);
    } else if (key === "Enter" && onTile) {
      event.preventDefault();
      if (tile.hasAttribute("data-stack")) {
        toggleStack(tile);
      } else if (tile.hasAttribute("data-sha")) {
        window.location.assign("/media/" + tile.getAttribute("data-sha"));
      }
    } else if ((key === " " || key === "r" || key === "R") && onTile) {
      event.preventDefault();
      if (tile.hasAttribute("data-stack")) {
        if (key === " ") toggleStack(tile);
        return;
      }
      var img = imageOf(tile);
      if (!img) { vident.flash(vident.t("triage.no-preview")); return; }
      var on = img.getAttribute("data-revealed") !== "true";
      vident.reveal(img, on);
      vident.flash(on
        ? vident.t("triage.revealed", { name: tile.getAttribute("data-path") })
        : vident.t("triage.veiled", { name: tile.getAttribute("data-path") }));
    } else if ((key === "x" || key === "X") && onTile) {
      event.preventDefault();
      toggleSelection(tile);
    } else if ((key === "m" || key === "M" || key === "u" || key === "U") && onTile) {
      event.preventDefault();
      review(targets(tile), key === "m" || key === "M");
    } else if (/^[0-9]$/.test(key) && onTile) {
      event.preventDefault();
      if (!canEdit) { readOnly(); return; }
      var category = categories[key];
      if (!category) { vident.flash(vident.t("triage.no-key", { key: key })); return; }
      categorise(targets(tile), category);
    }
  });

  /* A revealed picture is veiled again as soon as focus leaves its tile. */
  grid.addEventListener("focusout", function (event) {
    var tile = event.target.closest ? event.target.closest("[data-tile]") : null;
    if (!tile) return;
    var next = event.relatedTarget;
    if (next && tile.contains(next)) return;
    veil(tile);
  });

  grid.addEventListener("focusin", function (event) {
    var tile = event.target.closest ? event.target.closest("[data-tile]") : null;
    if (!tile || tile.getAttribute("tabindex") === "0") return;
    tiles().forEach(function (other) { other.setAttribute("tabindex", "-1"); });
    tile.setAttribute("tabindex", "0");
  });

  grid.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-expand]") : null;
    if (button) {
      var stack = button.closest("[data-stack]");
      if (stack) toggleStack(stack);
    }
  });

  var toolbar = document.querySelector("[data-toolbar]");
  if (toolbar) {
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button") : null;
      if (!button) return;
      if (button.hasAttribute("data-clear-selection")) {
        selectedTiles().forEach(function (tile) { toggleSelection(tile); });
        showCount();
      } else if (button.hasAttribute("data-mark-reviewed")) {
        review(selectedTiles(), true);
      } else if (button.hasAttribute("data-unmark-reviewed")) {
        review(selectedTiles(), false);
      } else if (button.hasAttribute("data-categorise")) {
        var key = toolbar.querySelector("[data-category-choice]").value;
        categorise(selectedTiles(), categories[key]);
      } else if (button.hasAttribute("data-add-to-series")) {
        var series = toolbar.querySelector("[data-series-choice]").value;
        var chosen = selectedTiles();
        if (!series || !chosen.length) { vident.flash(vident.t("triage.nothing")); return; }
        each(chosen, function (tile) {
          return vident.api("POST", "/api/v1/series/" + encodeURIComponent(series) + "/media",
            { sha256: tile.getAttribute("data-sha") });
        }).then(function (outcome) {
          var text = vident.t("triage.added", { series: series, n: outcome.done });
          if (outcome.failure) text += " " + outcome.failure.message;
          vident.flash(text);
        });
      }
    });
  }

  var first = tiles()[0];
  if (first) first.setAttribute("tabindex", "0");
  showCount();
})();
