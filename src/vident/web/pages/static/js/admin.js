/* Administration: adding a user and creating an API token, whose answers hold secrets the
 * API shows this once. They are put on the page as text (textContent), the enrolment's QR
 * code as an <img> of a data: URL built from the SVG text (never parsed into this page), and
 * nothing of them is kept: hiding them, or leaving the page, loses them for good.
 */
(function () {
  "use strict";

  function field(section, name) {
    return section.querySelector('[data-field="' + name + '"]');
  }

  function fail(form, error) {
    var box = form.querySelector("[data-error]");
    box.textContent = error.message;
    box.hidden = false;
  }

  function reveal(section) {
    section.hidden = false;
    var heading = section.querySelector("h2");
    if (heading) heading.focus();
  }

  // An SVG drawn as an image is a document of its own and needs its namespace, which SVG
  // meant to be inlined into HTML leaves out.
  function svgImage(svg) {
    var text = /^<svg\b[^>]*\bxmlns=/.test(svg)
      ? svg : svg.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"');
    return "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  }

  function showEnrolment(answer) {
    var section = document.getElementById("enrolment");
    field(section, "username").textContent = answer.user.username;
    var passwordRow = section.querySelector('[data-row="password"]');
    if (answer.password) {
      field(section, "password").textContent = answer.password;
      passwordRow.hidden = false;
    } else {
      field(section, "password").textContent = "";
      passwordRow.hidden = true;
    }
    field(section, "totp_uri").textContent = answer.totp_uri;
    field(section, "qr").setAttribute("src", svgImage(answer.totp_qr_svg));
    var codes = field(section, "recovery_codes");
    codes.textContent = "";
    answer.recovery_codes.forEach(function (code) {
      var item = document.createElement("li");
      item.textContent = code;
      codes.appendChild(item);
    });
    reveal(section);
    window.vident.flash(
      window.vident.t("admin.user-added", { username: answer.user.username }));
  }

  function showSecret(answer) {
    var section = document.getElementById("new-secret");
    field(section, "name").textContent = answer.token.name;
    field(section, "secret").textContent = answer.secret;
    reveal(section);
    window.vident.flash(window.vident.t("admin.token-created", { name: answer.token.name }));
  }

  function userBody(form) {
    var body = {
      username: form.elements.username.value.trim(),
      agency: form.elements.agency.value,
      role: form.elements.role.value,
      certified_until: form.elements.certified_until.value,
    };
    if (form.elements.password.value !== "") body.password = form.elements.password.value;
    return body;
  }

  function tokenBody(form) {
    var scopes = [];
    form.querySelectorAll('input[name="scopes"]:checked').forEach(function (box) {
      scopes.push(box.value);
    });
    return {
      username: form.elements.username.value,
      name: form.elements.namedItem("name").value.trim(),
      days: Number(form.elements.days.value),
      scopes: scopes,
    };
  }

  var ACTIONS = {
    "new-user": { url: "/api/v1/users", body: userBody, show: showEnrolment },
    "new-token": { url: "/api/v1/tokens", body: tokenBody, show: showSecret },
  };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form instanceof HTMLFormElement ? ACTIONS[form.getAttribute("data-admin")] : null;
    if (!action) return;
    event.preventDefault();
    var button = form.querySelector('[type="submit"]');
    var box = form.querySelector("[data-error]");
    box.hidden = true;
    button.disabled = true;
    window.vident.api("POST", action.url, action.body(form))
      .then(function (answer) {
        form.reset();
        action.show(answer);
      })
      .catch(function (error) { fail(form, error); })
      .finally(function () { button.disabled = false; });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest('[data-admin="forget"]') : null;
    if (!button) return;
    // Reloading drops the secrets from the page and shows the lists as they are now.
    window.location.reload();
  });
})();
