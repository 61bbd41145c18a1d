// Segment builder: drag-and-drop of conditions and groups (SortableJS), focus kept
// after a keyboard move, and the bad condition pointed at when the preview fails.
// Everything here is an enhancement: every edit is also a plain form that works without it.
(function () {
  "use strict";
  var htmx = window.htmx;
  if (!htmx) { return; }

  // A refused edit answers 422 with the re-drawn tree and the reason: show it like a success.
  htmx.config.responseHandling = [{ code: "422", swap: true }].concat(htmx.config.responseHandling);

  function findTree(element) {
    if (element.id === "segment-tree") { return element; }
    return element.querySelector ? element.querySelector("#segment-tree") : null;
  }

  // Each group's list of children is a sortable; they share one group name, so an item
  // can be dropped into any other group. On drop the server moves the node and answers
  // with the re-drawn tree, which replaces what the drag did to the page.
  function initSortables(element) {
    var tree = findTree(element);
    if (!tree || !tree.hasAttribute("data-editable") || !window.Sortable) { return; }
    var form = tree.querySelector("#segment-move-form");
    tree.querySelectorAll(".rule-children").forEach(function (list) {
      window.Sortable.create(list, {
        group: "segment-rule",
        handle: ".rule-handle",
        draggable: ".rule-node",
        animation: 150,
        fallbackOnBody: true,
        swapThreshold: 0.65,
        emptyInsertThreshold: 12,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
          form.elements.namedItem("node").value = event.item.getAttribute("data-node-id");
          form.elements.namedItem("parent").value = event.to.getAttribute("data-group-id");
          form.elements.namedItem("index").value = String(event.newIndex);
          htmx.trigger(form, "submit");
        }
      });
    });
  }

  // After a move by keyboard the tree is re-drawn; put the focus back on the same
  // button of the moved node (or on its first usable one) so the user can go on.
  var pendingFocus = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".rule-move button") : null;
    pendingFocus = button ? { node: button.form.elements.namedItem("node").value, direction: button.value } : null;
  });

  function restoreFocus(element) {
    if (!pendingFocus || !findTree(element)) { return; }
    var node = document.getElementById("node-" + pendingFocus.node);
    var direction = pendingFocus.direction;
    pendingFocus = null;
    if (!node) { return; }
    var buttons = node.querySelectorAll(":scope > .rule-head .rule-move button");
    var target = null;
    buttons.forEach(function (button) {
      if (!target && button.value === direction && !button.disabled) { target = button; }
    });
    buttons.forEach(function (button) {
      if (!target && !button.disabled) { target = button; }
    });
    if (target) { target.focus(); }
  }

  // The preview evaluates the saved rule; when it is not valid (a segment it refers
  // to was archived, say), point at the condition it names.
  function markPreviewError(element) {
    var preview = element.id === "segment-preview" ? element : null;
    if (!preview) { return; }
    var nodeId = preview.getAttribute("data-error-node");
    var node = nodeId ? document.getElementById("node-" + nodeId) : null;
    if (node) { node.classList.add("rule-node-error"); }
  }

  htmx.onLoad(function (element) {
    initSortables(element);
    restoreFocus(element);
    markPreviewError(element);
    if (element === document.body) {
      var preview = document.getElementById("segment-preview");
      if (preview) { markPreviewError(preview); }
    }
  });

  // Plain (non-htmx) forms that ask first, such as archiving.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
