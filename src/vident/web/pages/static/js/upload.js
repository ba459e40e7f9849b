/* The upload page: one file or archive, dropped or chosen, streamed to POST /api/v1/jobs with
 * upload progress (XMLHttpRequest), then the ingest job followed until it is done.
 * Every text from the server or the file system goes into the page with textContent only.
 */
(function () {
  "use strict";

  var form = document.getElementById("upload");
  if (!form || !window.vident) return;
  var t = window.vident.t;
  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var chosenText = document.getElementById("chosen");
  var errorBox = form.querySelector("[data-error]");
  var start = document.getElementById("start");
  var panel = document.getElementById("upload-progress");
  var sent = document.getElementById("sent");
  var sentText = document.getElementById("sent-text");
  var ingested = document.getElementById("ingested");
  var jobStatus = document.getElementById("job-status");
  var jobText = document.getElementById("job-text");
  var jobError = document.getElementById("job-error");
  var jobDone = document.getElementById("job-done");
  var triageLink = document.getElementById("triage-link");
  var maxBytes = Number(form.getAttribute("data-max-bytes")) || Infinity;
  var chosen = null;
  var POLL_MS = 700;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = message === "";
  }

  function megabytes(bytes) {
    return t("upload.megabytes", { mb: (bytes / 1e6).toFixed(1) });
  }

  function choose(files) {
    showError("");
    if (!files || files.length === 0) {
      chosen = null;
      chosenText.textContent = "";
      return;
    }
    if (files.length > 1) {
      chosen = null;
      chosenText.textContent = "";
      showError(t("upload.one-file", { n: files.length }));
      return;
    }
    if (files[0].size > maxBytes) {
      chosen = null;
      chosenText.textContent = "";
      showError(t("upload.too-large", { size: megabytes(maxBytes) }));
      return;
    }
    chosen = files[0];
    chosenText.textContent = t("upload.chosen", { name: chosen.name, size: megabytes(chosen.size) });
    var source = document.getElementById("source");
    if (source.value.trim() === "") source.value = chosen.name.replace(/\.[^.]*$/, "");
  }

  input.addEventListener("change", function () { choose(input.files); });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) {
      event.preventDefault();
      drop.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function (event) {
      event.preventDefault();
      drop.classList.remove("over");
    });
  });
  drop.addEventListener("drop", function (event) {
    choose(event.dataTransfer ? event.dataTransfer.files : null);
  });

  function reason(xhr) {
    try {
      var data = JSON.parse(xhr.responseText);
      if (data && typeof data.detail === "string") return data.detail;
      if (data && typeof data.title === "string") return data.title;
    } catch (_ignored) { /* not JSON: say the status */ }
    return t("api.status", { status: xhr.status });
  }

  function showJob(job) {
    ingested.max = Math.max(job.files_total, 1);
    ingested.value = job.status === "done" ? ingested.max : job.files_done;
    jobStatus.textContent = job.status;
    var text = t("upload.files", { done: job.files_done, total: job.files_total });
    if (job.errors) text += ", " + t("upload.unreadable", { n: job.errors });
    if (job.eta_seconds !== null && job.eta_seconds !== undefined) {
      text += ", " + t("upload.eta", { seconds: Math.round(job.eta_seconds) });
    }
    jobText.textContent = text;
  }

  function follow(jobId) {
    window.vident.api("GET", "/api/v1/jobs/" + jobId).then(function (job) {
      showJob(job);
      if (job.status === "done") {
        triageLink.href = "/sources/" + encodeURIComponent(job.source) + "/triage";
        jobDone.hidden = false;
        window.vident.flash(t("upload.done", { source: job.source }));
        start.disabled = false;
      } else if (job.status === "failed") {
        jobError.textContent = job.error || t("upload.failed");
        jobError.hidden = false;
        start.disabled = false;
      } else {
        window.setTimeout(function () { follow(jobId); }, POLL_MS);
      }
    }).catch(function (error) {
      jobError.textContent = error.message;
      jobError.hidden = false;
      start.disabled = false;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    var source = document.getElementById("source").value.trim();
    var newCase = document.getElementById("new-case").value.trim();
    var case_ = newCase || document.getElementById("case").value;
    if (!chosen && input.files && input.files.length === 1) choose(input.files);
    if (source === "") { showError(t("upload.no-source")); return; }
    if (!chosen) { showError(t("upload.no-file")); return; }

    var url = "/api/v1/jobs?source=" + encodeURIComponent(source);
    if (case_) url += "&case=" + encodeURIComponent(case_);
    var body = new FormData();
    body.append("file", chosen, chosen.name);

    start.disabled = true;
    panel.hidden = false;
    jobDone.hidden = true;
    jobError.hidden = true;
    sent.value = 0;
    ingested.value = 0;
    jobStatus.textContent = "";
    jobText.textContent = "";

    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", window.vident.csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) return;
      sent.max = progress.total;
      sent.value = progress.loaded;
      sentText.textContent = t("upload.progress", {
        sent: megabytes(progress.loaded), total: megabytes(progress.total),
      });
    });
    xhr.addEventListener("load", function () {
      if (xhr.status !== 202 && xhr.status !== 200) {
        showError(reason(xhr));
        panel.hidden = true;
        start.disabled = false;
        return;
      }
      sent.value = sent.max;
      sentText.textContent = t("upload.sent");
      var job = JSON.parse(xhr.responseText);
      showJob(job);
      follow(job.id);
    });
    xhr.addEventListener("error", function () {
      showError(t("upload.interrupted"));
      panel.hidden = true;
      start.disabled = false;
    });
    xhr.send(body);
  });
})();
