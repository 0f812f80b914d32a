// Progressive enhancement of the console's pages; without this script every page works as
// served (forms post as usual, times stay in UTC).
// - Send Test Email fetches only the check's result, so the page (and the password typed in
//   its field) stays as it is.
// - The TLS mode field is disabled, and says why, while the TLS switch is off.
// - Times (<time data-local>) are shown in the reader's own time zone; the exact value stays
//   on hover (title).
"use strict";

function localTimes(root) {
  if (!window.Intl || !Intl.DateTimeFormat) return;
  var format = new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  root.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
    var at = new Date(el.getAttribute("datetime"));
    if (!isNaN(at.getTime())) el.textContent = format.format(at);
  });
}

function tlsMode() {
  var tls = document.getElementById("tls");
  var mode = document.getElementById("tls_mode");
  var hint = document.getElementById("tls_mode-hint");
  if (!tls || !mode) return;
  function sync() {
    mode.disabled = !tls.checked;  // a disabled field is not sent: the server ignores it too
    if (hint) hint.textContent = hint.getAttribute(tls.checked ? "data-on" : "data-off");
  }
  tls.addEventListener("change", sync);
  sync();
}

function sendTest() {
  var form = document.getElementById("smtp-form");
  var button = document.getElementById("send-test");
  var result = document.getElementById("check-result");
  if (!form || !button || !result || !window.fetch) return;
  button.addEventListener("click", function (event) {
    event.preventDefault();
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "test");
    button.disabled = true;
    result.textContent = "Testing… (logging in to the relay)";
    fetch(form.getAttribute("action"), {  // not form.action: the buttons are named "action"
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Console-Fragment": "check" },
    })
      .then(function (r) {
        if (r.redirected || (r.status !== 200 && r.status !== 422)) {
          window.location.reload();
          return null;
        }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        result.innerHTML = html;
        localTimes(result);
        var top = result.getBoundingClientRect().top;
        if (top < 0 || top > window.innerHeight - 60) {  // out of view (below the form, in a narrow window)
          result.scrollIntoView({ block: "start" });
        }
      })
      .catch(function () {
        result.textContent = "The test could not be run: the console did not answer.";
      })
      .finally(function () {
        button.disabled = false;
      });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  localTimes(document);
  tlsMode();
  sendTest();
});
