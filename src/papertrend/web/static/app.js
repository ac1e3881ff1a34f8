// Progressive enhancement only: every page works without this file (issue #4).
(function () {
  "use strict";
  // "/" focuses the search box, as on many sites, unless the user is typing somewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
    var box = document.getElementById("q") || document.getElementById("site-q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });

  // Upvote buttons update in place (issue #4); without this file they post the form and come back.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.classList || !form.classList.contains("upvote-form") || !window.fetch) return;
    // Signed out (no sign-out form on the page), the plain form leads to sign-in: a fetch would
    // only get a 401, which the browser logs as a console error (tests/browser).
    if (!document.querySelector("form[action='/logout']")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      if (result.status === 401 && result.body.error && result.body.error.login) {
        window.location.assign(result.body.error.login);
        return;
      }
      if (result.status !== 200) throw new Error("upvote failed");
      var on = result.body.upvoted;
      var vote = form.querySelector("input[name=vote]");
      if (vote) vote.value = on ? "0" : "1";
      if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
      var label = form.querySelector(".label");
      if (label) label.textContent = on ? "Upvoted" : "Upvote";
      var count = form.querySelector(".vote-count");
      if (count) count.textContent = String(result.body.upvotes);
    }).catch(function () {
      form.submit(); // the plain form still works: let the server answer
    }).then(function () {
      if (button) button.disabled = false;
    });
  });
})();

// The time zone list starts at the browser's own zone on a new subscription (#13); without this
// file the list keeps UTC, and the reader picks from it.
(function () {
  "use strict";
  var select = document.querySelector("select[data-browser-zone]");
  if (!select || !window.Intl || !Intl.DateTimeFormat) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
