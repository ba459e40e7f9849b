/* The search page: by file (POST /api/v1/search), by pasted SHA-256 hashes
 * (GET /api/v1/media/{sha256} each) or by text (GET /api/v1/text). Results are veiled tiles
 * linking to /media/{sha256}, each with the reasons it was found. Everything the server
 * answers goes into the page with textContent and attributes only, never as markup.
 */
(function () {
  "use strict";

  var summary = document.getElementById("summary");
  var notes = document.getElementById("notes");
  var tiles = document.getElementById("tiles");
  if (!summary || !tiles || !window.vident) return;
  var t = window.vident.t;
  var SHA256 = /^[0-9a-f]{64}$/;
  var counter = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear() {
    notes.replaceChildren();
    tiles.replaceChildren();
  }

  function describe(reason) {
    var parts = [reason.signal];
    if (reason.distance) parts.push(t("search.bits", { n: reason.distance }));
    if (reason.score !== null && reason.score !== undefined) parts.push(t("search.score", { score: reason.score }));
    if (reason.hashset) parts.push(t("search.hashset", { name: reason.hashset }));
    if (reason.category) parts.push(t("search.category", { name: reason.category }));
    if (reason.series) parts.push(t("search.series", { name: reason.series }));
    if (reason.source) parts.push(t("search.source", { name: reason.source }));
    if (reason.identified) parts.push(t("search.identified", { name: reason.identified }));
    if (reason.where) parts.push(reason.where);
    return parts.join(" · ");
  }

  function verdictBadge(verdict) {
    return el("span", "verdict verdict-" + String(verdict).replace(/[^a-z]/g, ""), verdict);
  }

  /* One veiled tile: the preview (a link to the media page), caption lines, reasons. */
  function tile(sha, caption, verdict, reasons, extra) {
    var item = el("li", "tile");
    item.setAttribute("data-media", "");
    item.setAttribute("data-sha256", sha);
    var link = el("a");
    link.href = "/media/" + sha;
    var img = el("img");
    counter += 1;
    img.id = "result-" + counter;
    img.setAttribute("data-sha", sha);
    img.src = "/api/v1/media/" + sha + "/preview";
    img.alt = t("search.preview-of", { name: caption || sha });
    img.loading = "lazy";
    link.appendChild(img);
    item.appendChild(link);
    var figcaption = el("figcaption");
    if (verdict) {
      figcaption.appendChild(verdictBadge(verdict));
      figcaption.appendChild(document.createTextNode(" "));
    }
    var name = el("a", "", caption || sha.slice(0, 16) + "…");
    name.href = "/media/" + sha;
    figcaption.appendChild(name);
    item.appendChild(figcaption);
    if (extra) item.appendChild(extra);
    if (reasons && reasons.length) {
      var list = el("ul", "reasons");
      reasons.forEach(function (reason) { list.appendChild(el("li", "reason", describe(reason))); });
      item.appendChild(list);
    }
    var reveal = el("button", "quiet", t("search.reveal"));
    reveal.type = "button";
    reveal.setAttribute("data-reveal", img.id);
    reveal.setAttribute("aria-pressed", "false");
    item.appendChild(reveal);
    tiles.appendChild(item);
    return item;
  }

  function note(text) {
    notes.appendChild(el("li", "note", text));
  }

  function formError(form, message) {
    var box = form.querySelector("[data-error]");
    box.textContent = message;
    box.hidden = message === "";
  }

  function busy(form, on) {
    var button = form.querySelector('[type="submit"]');
    if (button) button.disabled = on;
    document.getElementById("results").setAttribute("aria-busy", on ? "true" : "false");
  }

  /* Matches grouped by the stored media they name; hash-set hits name no stored media. */
  function byMedia(matches) {
    var groups = {};
    var order = [];
    var loose = [];
    matches.forEach(function (match) {
      if (!match.media || !SHA256.test(match.media)) { loose.push(match); return; }
      if (!groups[match.media]) { groups[match.media] = []; order.push(match.media); }
      groups[match.media].push(match);
    });
    return { order: order, groups: groups, loose: loose };
  }

  function where(match) {
    var places = (match.occurrences || []).map(function (o) { return o.source + ": " + o.path; });
    return places.length ? places[0] : null;
  }

  var byFile = document.getElementById("by-file");
  byFile.addEventListener("submit", function (event) {
    event.preventDefault();
    formError(byFile, "");
    var input = document.getElementById("search-file");
    if (!input.files || input.files.length !== 1) {
      formError(byFile, t("search.choose-file"));
      return;
    }
    var body = new FormData();
    body.append("file", input.files[0], input.files[0].name);
    busy(byFile, true);
    summary.textContent = t("search.searching");
    clear();
    window.vident.api("POST", "/api/v1/search", body).then(function (found) {
      var counts = {
        file: found.file, verdict: found.verdict, n: found.matches.length, error: found.error,
      };
      summary.textContent = found.error
        ? t("search.file-summary-error", counts) : t("search.file-summary", counts);
      var grouped = byMedia(found.matches);
      grouped.loose.forEach(function (match) { note(describe(match)); });
      grouped.order.forEach(function (sha) {
        var group = grouped.groups[sha];
        tile(sha, where(group[0]), null, group);
      });
    }).catch(function (error) {
      summary.textContent = "";
      formError(byFile, error.message);
    }).finally(function () { busy(byFile, false); });
  });

  var byHash = document.getElementById("by-hash");
  byHash.addEventListener("submit", function (event) {
    event.preventDefault();
    formError(byHash, "");
    var most = Number(byHash.getAttribute("data-most")) || 50;
    var words = document.getElementById("hashes").value.toLowerCase().split(/[\s,;]+/)
      .filter(function (word) { return word !== ""; });
    var bad = words.filter(function (word) { return !SHA256.test(word); });
    if (words.length === 0) { formError(byHash, t("search.no-hash")); return; }
    if (bad.length) {
      formError(byHash, t("search.bad-hash", { word: bad[0].slice(0, 80) }));
      return;
    }
    if (words.length > most) {
      formError(byHash, t("search.too-many", { n: most }));
      return;
    }
    var unique = words.filter(function (word, i) { return words.indexOf(word) === i; });
    busy(byHash, true);
    summary.textContent = t("search.looking-up", { n: unique.length });
    clear();
    var found = 0;
    var lookups = unique.map(function (sha) {
      return window.vident.api("GET", "/api/v1/media/" + sha).then(function (media) {
        return { sha: sha, media: media };
      }, function (error) {
        return { sha: sha, error: error.message };
      });
    });
    Promise.all(lookups).then(function (answers) {
      answers.forEach(function (answer) {
        if (answer.error) { note(answer.sha + ": " + answer.error); return; }
        found += 1;
        var media = answer.media;
        var extra = el("p", "muted", (media.sources || []).join(", "));
        tile(answer.sha, media.file || null, media.verdict, media.matches, extra);
      });
      summary.textContent = t("search.hash-summary", { found: found, n: unique.length });
    }).finally(function () { busy(byHash, false); });
  });

  var byText = document.getElementById("by-text");
  function searchText() {
    formError(byText, "");
    var query = document.getElementById("text-query").value.trim();
    if (query === "") { formError(byText, t("search.no-word")); return; }
    busy(byText, true);
    summary.textContent = t("search.searching-text");
    clear();
    window.vident.api("GET", "/api/v1/text?q=" + encodeURIComponent(query)).then(function (found) {
      summary.textContent = t("search.text-summary", { n: found.results.length, query: query });
      found.results.forEach(function (hit) {
        var caption = hit.source ? hit.source + ": " + (hit.path || "") : hit.path;
        var extra = el("p", "snippet", hit.snippet);
        if (hit.frame) extra.textContent = t("search.frame", { frame: hit.frame, snippet: hit.snippet });
        tile(hit.sha256, caption, null, [], extra);
      });
    }).catch(function (error) {
      summary.textContent = "";
      formError(byText, error.message);
    }).finally(function () { busy(byText, false); });
  }
  byText.addEventListener("submit", function (event) {
    event.preventDefault();
    searchText();
  });
  if (document.getElementById("text-query").value.trim() !== "") searchText();
})();
