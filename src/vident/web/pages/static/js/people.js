/* People pages: decisions about person candidates by dragging and by keyboard.
 *
 * - A face ([data-face], draggable) dropped on another person card moves there
 *   (POST /api/v1/faces/{face}/move).
 * - A person card ([data-person], draggable) dropped on another card is merged into it: the
 *   card dropped on keeps its id (POST /api/v1/people/{target}/merge).
 * - Keyboard: a face's [data-pick] toggle button selects it (Space or Enter); the toolbar
 *   ([data-people-tools]) moves the selected faces to the chosen person or splits them off;
 *   each card's [data-merge] button merges it into the person chosen beside it.
 * - [data-face-reveal] swaps a veiled face for the face as it is (an audited reveal) and back.
 * - [data-label-form] sends the label, or null for an empty field (which clears it).
 * Every change goes through vident.api (CSRF header); afterwards the page reloads.
 */
(function () {
  "use strict";

  var FACE = "application/x-vident-face";
  var PERSON = "application/x-vident-person";
  var dragging = null; // {kind: "face"|"person", id, from}

  function after(promise, message, next) {
    return promise.then(function (data) {
      vident.flash(message);
      if (next) {
        window.location.assign(vident.fill(next, data));
      } else {
        window.location.reload();
      }
    }).catch(function (error) {
      vident.flash(error.message);
    });
  }

  function moveFaces(faces, target) {
    var calls = faces.map(function (face) {
      return vident.api("POST", "/api/v1/faces/" + face + "/move", { person: Number(target) });
    });
    return after(Promise.all(calls), vident.t("people.moved", { person: target }));
  }

  function merge(from, into, next) {
    return after(
      vident.api("POST", "/api/v1/people/" + into + "/merge", { people: [Number(from)] }),
      vident.t("people.merged", { from: from, into: into }), next);
  }

  /* --- selection ------------------------------------------------------------------------ */

  function selected() {
    return Array.prototype.map.call(
      document.querySelectorAll('[data-pick][aria-pressed="true"]'),
      function (button) { return button.closest("[data-face]"); });
  }

  function refreshTools() {
    var count = selected().length;
    var counter = document.querySelector("[data-selected-count]");
    if (counter) counter.textContent = String(count);
    document.querySelectorAll("[data-move-selected], [data-split-selected]").forEach(
      function (button) { button.disabled = count === 0; });
  }

  document.addEventListener("click", function (event) {
    var pick = event.target.closest ? event.target.closest("[data-pick]") : null;
    if (!pick) return;
    var on = pick.getAttribute("aria-pressed") !== "true";
    pick.setAttribute("aria-pressed", on ? "true" : "false");
    pick.closest("[data-face]").classList.toggle("picked", on);
    refreshTools();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-move-selected]") : null;
    if (!button) return;
    var target = document.querySelector("[data-move-target]").value;
    var faces = selected().filter(function (face) {
      return face.getAttribute("data-person") !== target;
    }).map(function (face) { return face.getAttribute("data-face"); });
    if (faces.length === 0) {
      vident.flash(vident.t("people.already"));
      return;
    }
    button.disabled = true;
    moveFaces(faces, target).then(function () { button.disabled = false; });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-split-selected]") : null;
    if (!button) return;
    var groups = {};
    selected().forEach(function (face) {
      var person = face.getAttribute("data-person");
      (groups[person] = groups[person] || []).push(Number(face.getAttribute("data-face")));
    });
    var calls = Object.keys(groups).map(function (person) {
      return vident.api("POST", "/api/v1/people/" + person + "/split", { faces: groups[person] });
    });
    button.disabled = true;
    after(Promise.all(calls), vident.t("people.split"))
      .then(function () { button.disabled = false; });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-merge]") : null;
    if (!button) return;
    var choice = button.parentNode.querySelector("[data-merge-target]");
    if (!choice || !choice.value) return;
    button.disabled = true;
    merge(button.getAttribute("data-merge"), choice.value,
      button.getAttribute("data-merged-next"))
      .then(function () { button.disabled = false; });
  });

  /* --- reveal ----------------------------------------------------------------------------- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-face-reveal]") : null;
    if (!button) return;
    var img = document.getElementById(button.getAttribute("data-face-reveal"));
    if (!img) return;
    var on = img.getAttribute("data-revealed") !== "true";
    var url = "/api/v1/faces/" + img.getAttribute("data-face-img") + "/preview";
    img.setAttribute("src", on ? url + "?reveal=true" : url);
    img.setAttribute("data-revealed", on ? "true" : "false");
    img.closest("[data-face]").classList.toggle("revealed", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
  });

  /* --- label ------------------------------------------------------------------------------ */

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-label-form")) return;
    event.preventDefault();
    var text = form.elements.label.value.trim();
    var error = form.querySelector("[data-error]");
    vident.api("POST", form.getAttribute("data-label-form"), { label: text === "" ? null : text })
      .then(function () { window.location.reload(); })
      .catch(function (failure) {
        if (error) {
          error.textContent = failure.message;
          error.hidden = false;
        }
      });
  });

  /* --- dragging --------------------------------------------------------------------------- */

  document.addEventListener("dragstart", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var face = target.closest("[data-face][draggable='true']");
    var card = target.closest(".person-card[draggable='true']");
    if (face) {
      dragging = { kind: "face", id: face.getAttribute("data-face"),
        from: face.getAttribute("data-person") };
      event.dataTransfer.setData(FACE, dragging.id);
    } else if (card) {
      dragging = { kind: "person", id: card.getAttribute("data-person"),
        from: card.getAttribute("data-person") };
      event.dataTransfer.setData(PERSON, dragging.id);
    } else {
      return;
    }
    event.dataTransfer.setData("text/plain", dragging.kind + " " + dragging.id);
    event.dataTransfer.effectAllowed = "move";
  });

  document.addEventListener("dragend", function () {
    dragging = null;
    document.querySelectorAll(".drop-here").forEach(function (card) {
      card.classList.remove("drop-here");
    });
  });

  function dropCard(event) {
    if (!dragging || !(event.target instanceof Element)) return null;
    var card = event.target.closest(".person-card[data-person]");
    if (!card || card.getAttribute("data-person") === dragging.from) return null;
    return card;
  }

  document.addEventListener("dragover", function (event) {
    var card = dropCard(event);
    if (!card) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    card.classList.add("drop-here");
  });

  document.addEventListener("dragleave", function (event) {
    if (!(event.target instanceof Element)) return;
    var card = event.target.closest(".person-card");
    if (card && !card.contains(event.relatedTarget)) card.classList.remove("drop-here");
  });

  document.addEventListener("drop", function (event) {
    var card = dropCard(event);
    if (!card) return;
    event.preventDefault();
    var into = card.getAttribute("data-person");
    var what = dragging;
    dragging = null;
    card.classList.remove("drop-here");
    if (what.kind === "face") {
      moveFaces([what.id], into);
    } else {
      merge(what.id, into);
    }
  });

  refreshTools();
})();
