// Campaign Studio: progressive enhancements only; every page works without this file.
(function () {
  "use strict";
  // Filter forms marked data-autosubmit refresh their htmx target as the user types.
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form && window.htmx) { window.htmx.trigger(form, "submit"); }
  });
})();
