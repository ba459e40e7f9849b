/* The break reminder of every signed-in page, and the live exposure figures of /settings.
 *
 * The analyst's break interval and the current session's start come from
 * GET /api/v1/me/wellbeing. Once the session has lasted the interval, a polite banner
 * (role=status, never a dialog: it takes no focus and blocks nothing) suggests a break; its
 * button hides it until another interval has passed. An interval of 0 means no reminder.
 * On /settings, [data-exposure-seconds] elements keep counting the session's time.
 * <html data-wellbeing="ready"> says the figures were read and the reminder scheduled.
 */
(function () {
  "use strict";

  var timer = null;

  function minutesText(seconds) {
    var minutes = Math.floor(seconds / 60);
    var hours = Math.floor(minutes / 60);
    return hours > 0
      ? window.vident.t("wellbeing.hours", { hours: hours, minutes: minutes % 60 })
      : window.vident.t("wellbeing.minutes", { minutes: minutes });
  }

  function banner() {
    var existing = document.getElementById("break-reminder");
    if (existing) return existing;
    var box = document.createElement("div");
    box.id = "break-reminder";
    box.className = "flash break-reminder";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    box.hidden = true;
    var text = document.createElement("span");
    text.className = "break-text";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "quiet";
    button.textContent = window.vident.t("wellbeing.dismiss");
    box.appendChild(text);
    box.appendChild(document.createTextNode(" "));
    box.appendChild(button);
    var main = document.getElementById("main");
    var flash = document.getElementById("flash");
    if (flash && flash.parentNode) {
      flash.parentNode.insertBefore(box, flash.nextSibling);
    } else if (main) {
      main.insertBefore(box, main.firstChild);
    } else {
      document.body.appendChild(box);
    }
    return box;
  }

  function schedule(state, delayMs) {
    if (timer !== null) window.clearTimeout(timer);
    timer = window.setTimeout(function () { show(state); }, Math.max(0, delayMs));
  }

  function show(state) {
    var box = banner();
    var elapsed = state.seconds + (Date.now() - state.loadedAt) / 1000;
    box.querySelector(".break-text").textContent =
      window.vident.t("wellbeing.reminder", { time: minutesText(elapsed) });
    box.hidden = false;
    box.querySelector("button").onclick = function () {
      box.hidden = true;
      schedule(state, state.interval * 1000);
    };
  }

  function start(data) {
    var exposure = data && data.exposure;
    var interval = data && data.effective ? Number(data.effective.break_minutes) * 60 : 0;
    if (!exposure) return;
    var state = { seconds: Number(exposure.seconds), loadedAt: Date.now(), interval: interval };
    document.querySelectorAll("[data-exposure-seconds]").forEach(function (element) {
      window.setInterval(function () {
        var elapsed = state.seconds + (Date.now() - state.loadedAt) / 1000;
        element.textContent = minutesText(elapsed);
      }, 30000);
    });
    if (interval > 0) {
      // Reminders fall due at each multiple of the interval since the session began; one
      // that fell due in the last half minute (on the page just left) shows at once.
      var due = interval - (state.seconds % interval);
      if (state.seconds >= interval && state.seconds % interval < 30) due = 0;
      schedule(state, due * 1000);
    }
    document.documentElement.setAttribute("data-wellbeing", "ready");
  }

  function load() {
    if (!document.body.hasAttribute("data-signed-in") || !window.vident) return;
    window.vident.api("GET", "/api/v1/me/wellbeing").then(start).catch(function () {
      /* no reminder when the figures cannot be read (the session just ended) */
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", load);
  } else {
    load();
  }
})();
