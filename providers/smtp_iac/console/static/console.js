// Progressive enhancement of the SMTP form: "Send Test Email" fetches only the check's result,
// so the page (and the password typed in its field) stays as it is. Without this script the
// form posts as usual and the page comes back with the result.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
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
        if (html !== null) result.innerHTML = html;
      })
      .catch(function () {
        result.textContent = "The test could not be run: the console did not answer.";
      })
      .finally(function () {
        button.disabled = false;
      });
  });
});
