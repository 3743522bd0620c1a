/* The option tree editor (the product's change page): small, no build step.
 *
 * - A group shows only the fields its type uses. The server writes on each group's type <select>
 *   which type uses which field (data-type-fields, the validator's TYPE_FIELDS) and which types
 *   have sub-groups (data-choice-types); switching the type shows and hides them at once. A field
 *   that holds a value or an error stays shown whatever the type (the validator names it).
 * - "T1 preview" opens what option T1 answers for this product (as stored) in a dialog over the
 *   page, so unsaved edits stay where they are; without this script the link opens the page.
 */
(function () {
  "use strict";

  function place(input) {
    // a field alone on its line: the line; a field sharing a line: its own box in it
    var box = input.closest(".fieldBox");
    return box ? box.parentElement : input.closest(".form-row");
  }

  function keep(input, holder) {
    return input.value !== "" || holder.querySelector(".errorlist") !== null;
  }

  function applyType(select) {
    var uses = JSON.parse(select.dataset.typeFields);
    var choiceTypes = JSON.parse(select.dataset.choiceTypes);
    var prefix = select.name.slice(0, -"type".length);
    var form = select.closest(".djn-inline-form") || document;
    var type = select.value;
    Object.keys(uses).forEach(function (name) {
      var input = form.querySelector("[name='" + prefix + name + "']");
      if (!input) return;
      var holder = place(input);
      holder.classList.toggle("hidden", uses[name].indexOf(type) < 0 && !keep(input, holder));
    });
    form.querySelectorAll(".form-row").forEach(function (line) {
      var boxes = line.querySelectorAll(".fieldBox");
      if (boxes.length === 0) return;
      var shown = Array.prototype.some.call(boxes, function (b) { return !b.parentElement.classList.contains("hidden"); });
      line.classList.toggle("hidden", !shown);
    });
    // the sub-groups (and their options): only for choice groups, unless rows are already there
    var subGroups = form.querySelector(".djn-group-nested");
    if (subGroups) {
      var rows = subGroups.querySelectorAll("input[name$='-sub_group_id']:not([name*='__prefix__'])");
      subGroups.classList.toggle("hidden", choiceTypes.indexOf(type) < 0 && rows.length === 0);
    }
    form.dataset.groupType = type;
  }

  function applyAll(root) {
    root.querySelectorAll("select[data-type-fields]").forEach(function (select) {
      if (select.name.indexOf("__prefix__") < 0) applyType(select);
    });
  }

  function openPreview(event) {
    var dialog = document.getElementById("tree-preview");
    if (!dialog || typeof dialog.showModal !== "function") return; // follow the link instead
    event.preventDefault();
    var frame = dialog.querySelector("iframe");
    frame.src = dialog.dataset.src + "?_popup=1&_=" + Date.now(); // always what is stored now
    dialog.showModal();
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-type-fields]")) applyType(event.target);
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.tree-preview-open, button.tree-preview-open");
    if (link) openPreview(event);
    if (event.target.closest("#tree-preview .tree-preview-close")) {
      document.getElementById("tree-preview").close();
    }
  });
  // a group added with "add another" (a copy of the empty form): nested-admin says so
  document.addEventListener("formset:added", function (event) {
    applyAll(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    applyAll(document);
  });
})();
