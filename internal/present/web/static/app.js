// servescope dashboard: theme switch, auto-submit of the picker, and
// auto-refresh. Everything else is rendered by the server.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = window.localStorage.getItem("servescope-theme"); } catch (e) { saved = null; }
  if (saved === "dark" || saved === "light") {
    root.setAttribute("data-theme", saved);
  } else if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
    root.setAttribute("data-theme", "dark");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var btn = document.getElementById("theme");
    if (btn) {
      btn.addEventListener("click", function () {
        var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { window.localStorage.setItem("servescope-theme", next); } catch (e) { /* private mode */ }
      });
    }
    var form = document.getElementById("picker");
    if (form) {
      form.querySelectorAll("[data-autosubmit]").forEach(function (el) {
        // requestSubmit, unlike submit, fires the submit handler below.
        el.addEventListener("change", function () { form.requestSubmit(); });
      });
      form.addEventListener("submit", function () {
        // Keep the URL short: drop empty fields.
        form.querySelectorAll("input, select").forEach(function (el) {
          if (el.name && el.value === "") { el.disabled = true; }
        });
      });
    }
    var secs = parseInt(document.body.getAttribute("data-refresh"), 10);
    if (secs > 0) {
      window.setTimeout(function () {
        if (document.visibilityState === "hidden") {
          document.addEventListener("visibilitychange", function () { window.location.reload(); }, { once: true });
        } else {
          window.location.reload();
        }
      }, secs * 1000);
    }
  });
})();
