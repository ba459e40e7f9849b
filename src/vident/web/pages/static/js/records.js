/* The records pages: the form that records a victim or an offender.
 *
 * <form data-records-subject="/api/v1/victims" data-next="/victims/{code}">: the fields marked
 * data-personal (name, birth year, notes) are sent together as "personal", which the service
 * encrypts; the others (series, media) as vident.js would send them. On failure the API's
 * reason shows in the form's [data-error] line and the analyst stays on the page.
 */
(function () {
  "use strict";

  function value(input) {
    var raw = input.value.trim();
    if (raw === "") return undefined;
    var kind = input.getAttribute("data-type");
    if (kind === "number") return Number(raw);
    if (kind === "list") {
      return raw.split(/[\n,]/).map(function (part) { return part.trim(); })
        .filter(function (part) { return part !== ""; });
    }
    return input.value;
  }

  function body(form) {
    var out = {};
    var personal = {};
    var anyPersonal = false;
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.type === "submit") return;
      var v = value(input);
      if (v === undefined) return;
      if (input.hasAttribute("data-personal")) {
        personal[input.name] = v;
        anyPersonal = true;
      } else {
        out[input.name] = v;
      }
    });
    if (anyPersonal) out.personal = personal;
    return out;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-records-subject")) return;
    event.preventDefault();
    var button = form.querySelector('[type="submit"]');
    var error = form.querySelector("[data-error]");
    if (button) button.disabled = true;
    window.vident.api("POST", form.getAttribute("data-records-subject"), body(form))
      .then(function (data) {
        window.location.assign(window.vident.fill(form.getAttribute("data-next"), data));
      })
      .catch(function (failure) {
        if (error) {
          error.textContent = failure.message;
          error.hidden = false;
        } else {
          window.vident.flash(failure.message);
        }
        if (button) button.disabled = false;
      });
  });
})();
