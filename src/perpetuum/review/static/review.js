// Perpetuum review desk: keyboard shortcuts and the in-place editors. The pages work without it.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function openEditor(details) {
    if (!details) return;
    details.open = true;
    var area = details.querySelector("textarea");
    if (area) { area.focus(); area.setSelectionRange(area.value.length, area.value.length); }
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }

  function toggleHelp() {
    var help = document.getElementById("help");
    if (help) help.hidden = !help.hidden;
  }

  // Opening an editor focuses its text; Ctrl/Cmd+Enter saves it, Esc closes it.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.matches && details.matches("details.edit") && details.open) {
      var area = details.querySelector("textarea");
      if (area && document.activeElement !== area) area.focus();
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.tagName === "TEXTAREA") {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        target.form.requestSubmit();
      } else if (event.key === "Escape") {
        var details = target.closest("details");
        if (details) { details.open = false; details.querySelector("summary").focus(); }
      }
      return;
    }
    if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Escape" && target.blur) target.blur();
      return;
    }
    var page = document.body.dataset.page;
    if (event.key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (event.key === "/" && document.getElementById("search")) {
      event.preventDefault(); document.getElementById("search").focus(); return;
    }
    if (page === "record") recordKeys(event);
    else if (page === "queue") queueKeys(event);
  });

  function recordKeys(event) {
    switch (event.key) {
      case "a": event.preventDefault(); document.getElementById("accept-form").requestSubmit(); break;
      case "r": event.preventDefault(); document.getElementById("reason").focus(); break;
      case "e": {
        event.preventDefault();
        var flagged = document.querySelector(".turn.flagged details.edit");
        openEditor(flagged || document.querySelector("section.field details.edit"));
        break;
      }
      case "j": case "n": follow("next"); break;
      case "k": case "p": follow("previous"); break;
      case "u": follow("to-queue"); break;
    }
  }

  function queueKeys(event) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr"));
    if (!rows.length) return;
    var current = rows.findIndex(function (row) { return row.classList.contains("selected"); });
    function select(index) {
      rows.forEach(function (row) { row.classList.remove("selected"); });
      var row = rows[Math.max(0, Math.min(rows.length - 1, index))];
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
    }
    switch (event.key) {
      case "j": event.preventDefault(); select(current + 1); break;
      case "k": event.preventDefault(); select(current < 0 ? 0 : current - 1); break;
      case "Enter": case "o":
        if (current >= 0) { event.preventDefault(); window.location.href = rows[current].querySelector("a.open").href; }
        break;
    }
  }

  // A field in a closed section (the short fields) is opened first, or there is nothing to scroll to.
  function reveal(element) {
    for (var details = element.closest("details"); details; details = details.parentElement.closest("details")) {
      details.open = true;
    }
  }

  // After a save the address names the edited field: go there. A page opened without an anchor goes to what needs
  // the reviewer: the question or editor a refused action left open, else the first flagged turn.
  function goToFocus() {
    var hash = window.location.hash ? decodeURIComponent(window.location.hash.slice(1)) : "";
    var named = hash ? document.getElementById(hash) : null;
    if (named) {
      reveal(named);
      named.scrollIntoView({ block: "start" });
      return;
    }
    var focus = document.body.dataset.focus;
    var element = focus && !hash ? document.getElementById(focus) : null;
    if (element) { reveal(element); element.scrollIntoView({ block: "center" }); }
    var area = element && element.querySelector("details[open] textarea");
    if (area) area.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    goToFocus();
    var button = document.getElementById("show-help");
    if (button) button.addEventListener("click", toggleHelp);
    var first = document.querySelector("table.queue tbody tr");
    if (first) first.classList.add("selected");
  });
})();
