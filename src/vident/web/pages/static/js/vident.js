/* vident's pages: the shared behaviour every page may use.
 *
 * - vident.api(method, url, body): a call to the REST API with the session's CSRF token; it
 *   resolves to the decoded JSON (or null) and rejects with an Error whose message is the
 *   API's one-line reason.
 * - <form data-api="/api/v1/..." data-method="POST" data-next="/series/{name}">: sent as JSON
 *   to the API; on success the browser goes to data-next (fields of the answer fill {name}),
 *   or the page reloads; on failure the reason shows in the form's [data-error] element.
 *   Inputs with data-type="number", "list" (comma or line separated) or "bool" are converted;
 *   empty inputs are left out.
 * - <button data-api="/api/v1/..." data-method="POST" data-body='{"a": 1}' data-next="...">:
 *   the same for one button.
 * - vident.reveal(img, on): swap a veiled preview for the picture (an audited reveal) and back.
 * - vident.flash(text): a polite status message for screen readers and eyes.
 * - vident.t(key, values): the page's message for key (from the layout's JSON data block
 *   #vident-messages, translated with the page) with its %(name)s placeholders filled from
 *   values; a key the page lacks shows as itself, so a missing message is seen.
 * No inline script anywhere: the pages' CSP forbids it, and this file is all there is.
 */
(function () {
  "use strict";

  var messages = null;

  function t(key, values) {
    if (messages === null) {
      messages = {};
      var block = document.getElementById("vident-messages");
      if (block) {
        try {
          messages = JSON.parse(block.textContent) || {};
        } catch (_ignored) { /* no messages: every key shows as itself */ }
      }
    }
    var text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return String(text).replace(/%\((\w+)\)s/g, function (_whole, name) {
      return values && values[name] !== undefined && values[name] !== null
        ? String(values[name]) : "";
    });
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function api(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
    };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined && body !== null) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      var type = response.headers.get("content-type") || "";
      var parsed = type.indexOf("json") >= 0 ? response.json() : Promise.resolve(null);
      return parsed.then(function (data) {
        if (!response.ok) {
          var reason = data && (data.detail || data.title);
          if (typeof reason !== "string") reason = t("api.status", { status: response.status });
          var error = new Error(reason);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, function (_whole, key) {
      var value = data && data[key] !== undefined ? data[key] : "";
      return encodeURIComponent(String(value));
    });
  }

  function flash(text) {
    var box = document.getElementById("flash");
    if (box) box.textContent = text;
  }

  function fieldValue(input) {
    var kind = input.getAttribute("data-type");
    if (input.type === "checkbox") return input.checked;
    var raw = input.value;
    if (raw === "") return undefined;
    if (kind === "number") return Number(raw);
    if (kind === "bool") return raw === "true";
    if (kind === "list") {
      return raw.split(/[\n,]/).map(function (part) { return part.trim(); })
        .filter(function (part) { return part !== ""; });
    }
    return raw;
  }

  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.type === "submit") return;
      if (input.type === "radio" && !input.checked) return;
      var value = fieldValue(input);
      if (value !== undefined) body[input.name] = value;
    });
    return body;
  }

  function done(element, data) {
    var next = element.getAttribute("data-next");
    if (next) {
      window.location.assign(fill(next, data));
    } else {
      window.location.reload();
    }
  }

  function showError(form, message) {
    var box = form.querySelector("[data-error]");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    } else {
      flash(message);
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-api")) return;
    event.preventDefault();
    var button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    api(form.getAttribute("data-method") || "POST", form.getAttribute("data-api"), formBody(form))
      .then(function (data) { done(form, data); })
      .catch(function (error) {
        showError(form, error.message);
        if (button) button.disabled = false;
      });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-api]") : null;
    if (!button || button.form && button.form.hasAttribute("data-api")) return;
    event.preventDefault();
    var raw = button.getAttribute("data-body");
    button.disabled = true;
    api(button.getAttribute("data-method") || "POST", button.getAttribute("data-api"),
      raw ? JSON.parse(raw) : null)
      .then(function (data) { done(button, data); })
      .catch(function (error) {
        flash(error.message);
        button.disabled = false;
      });
  });

  function reveal(img, on) {
    var sha = img.getAttribute("data-sha");
    if (!sha) return;
    var veiled = "/api/v1/media/" + sha + "/preview";
    var wanted = on ? veiled + "?reveal=true" : veiled;
    if (img.getAttribute("src") !== wanted) img.setAttribute("src", wanted);
    img.setAttribute("data-revealed", on ? "true" : "false");
    var holder = img.closest("[data-media]");
    if (holder) holder.classList.toggle("revealed", on);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-reveal]") : null;
    if (!button) return;
    var img = document.getElementById(button.getAttribute("data-reveal"));
    if (!img) return;
    var on = img.getAttribute("data-revealed") !== "true";
    reveal(img, on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
  });

  window.vident = { api: api, flash: flash, reveal: reveal, csrf: csrf, fill: fill, t: t };
})();
