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
})();
