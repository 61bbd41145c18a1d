// Drag-and-drop ordering (SortableJS) for every list marked data-sortable: reward
// slots, task-chain tasks, landing page blocks. Items are [data-sortable-item], dragged
// by their [data-sortable-handle]. On a drop the list fires a bubbling "reordered"
// event, which its hx-trigger posts; the server answers with the re-drawn list (422 with
// the stored order and the reason when it refuses, so the list snaps back). The up/down
// buttons beside each item are plain form buttons: everything works without this file.
(function () {
  "use strict";
  var htmx = window.htmx;
  var Sortable = window.Sortable;
  if (!htmx || !Sortable) { return; }

  // A refused order answers 422 with the stored order: swap it in like a success.
  var handling = htmx.config.responseHandling;
  if (!handling.some(function (rule) { return rule.code === "422"; })) {
    htmx.config.responseHandling = [{ code: "422", swap: true }].concat(handling);
  }

  function listsIn(element) {
    var lists = [];
    if (element.matches && element.matches("[data-sortable]")) { lists.push(element); }
    if (element.querySelectorAll) {
      element.querySelectorAll("[data-sortable]").forEach(function (list) { lists.push(list); });
    }
    return lists;
  }

  function initSortables(element) {
    listsIn(element).forEach(function (list) {
      // A list in a disabled fieldset (a campaign that cannot be changed now) stays put.
      if (list.sortableList || list.closest("fieldset[disabled]")) { return; }
      list.sortableList = Sortable.create(list, {
        handle: "[data-sortable-handle]",
        draggable: "[data-sortable-item]",
        animation: 150,
        onEnd: function (event) {
          if (event.oldIndex === event.newIndex) { return; }
          // No second drag until the server's answer replaces the list.
          list.sortableList.option("disabled", true);
          list.dispatchEvent(new CustomEvent("reordered", { bubbles: true }));
        }
      });
    });
  }

  // After an up/down button re-draws its list, put the focus on the moved item's
  // button again (or the first usable one its data-refocus names), so a keyboard
  // user can press it again.
  var refocus = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-refocus]") : null;
    refocus = button ? button.getAttribute("data-refocus").split(/\s+/) : null;
  });

  document.body.addEventListener("htmx:afterSettle", function () {
    if (!refocus) { return; }
    var ids = refocus;
    refocus = null;
    for (var i = 0; i < ids.length; i++) {
      var target = document.getElementById(ids[i]);
      if (target && !target.disabled) { target.focus(); return; }
    }
  });

  // A failed request (the network, a server error) leaves the dragged order on the
  // page, unsaved: let the user try again.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var list = event.detail.elt;
    if (list && list.sortableList && !event.detail.successful) {
      list.sortableList.option("disabled", false);
    }
  });

  htmx.onLoad(initSortables);
})();
