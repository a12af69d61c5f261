// Filters for the verdict list. The filter state lives in the address fragment
// (#host=weak&status=fail), so a filtered view can be bookmarked, shared, or
// opened directly (the project's browser test opens such a URL). Without
// JavaScript every verdict is simply shown.
(function () {
  "use strict";
  var KEYS = ["host", "vm", "domain", "severity", "status", "ref", "control", "q"];
  var form = document.getElementById("filters");
  if (!form) {
    // a fleet's report.html: the verdicts are on each host's page (report-hosts/);
    // a filter naming a host (#host=weak&status=fail) opens that page with the rest
    var toHostPage = function () {
      var hash = window.location.hash.slice(1);
      if (hash.indexOf("=") < 0) { return; }
      var params = new URLSearchParams(hash);
      var host = params.get("host");
      if (!host) { return; }
      var rows = document.querySelectorAll("tr[data-page]");
      for (var i = 0; i < rows.length; i += 1) {
        if (rows[i].dataset.host === host) {
          params.delete("host");
          var rest = params.toString();
          window.location.assign(rows[i].dataset.page + (rest ? "#" + rest : ""));
          return;
        }
      }
    };
    window.addEventListener("hashchange", toHostPage);
    toHostPage();
    return;
  }
  var items = Array.prototype.slice.call(document.querySelectorAll("#verdicts > details.verdict"));
  var shown = document.getElementById("shown");
  var noMatch = document.getElementById("no-match");

  function fromHash() {
    var hash = window.location.hash.slice(1);
    var params = new URLSearchParams(hash.indexOf("=") >= 0 ? hash : "");
    var wanted = {};
    KEYS.forEach(function (k) { wanted[k] = (params.get(k) || "").trim(); });
    return wanted;
  }

  function fromForm() {
    var wanted = {};
    KEYS.forEach(function (k) { wanted[k] = form.elements[k].value.trim(); });
    return wanted;
  }

  function toHash(wanted) {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (wanted[k]) { params.set(k, wanted[k]); } });
    return params.toString();
  }

  function matches(el, wanted) {
    var d = el.dataset;
    if (wanted.host && d.host !== wanted.host) { return false; }
    if (wanted.vm && d.vm !== wanted.vm) { return false; }
    if (wanted.domain && d.domain !== wanted.domain) { return false; }
    if (wanted.severity && d.severity !== wanted.severity) { return false; }
    if (wanted.status && wanted.status.split(",").indexOf(d.status) < 0) { return false; }
    if (wanted.control && d.control.toUpperCase() !== wanted.control.toUpperCase()) { return false; }
    if (wanted.ref && d.refs.indexOf("|" + wanted.ref + "|") < 0) { return false; }
    if (wanted.q && el.textContent.toLowerCase().indexOf(wanted.q.toLowerCase()) < 0) { return false; }
    return true;
  }

  function showInForm(wanted) {
    KEYS.forEach(function (k) {
      var field = form.elements[k];
      if (field.tagName === "SELECT" && wanted[k] &&
          !Array.prototype.some.call(field.options, function (o) { return o.value === wanted[k]; })) {
        field.add(new Option(wanted[k], wanted[k]));   // a value from a link, not in the list
      }
      field.value = wanted[k];
    });
  }

  function apply(wanted) {
    var count = 0;
    items.forEach(function (el) {
      var ok = matches(el, wanted);
      el.hidden = !ok;
      if (ok) { count += 1; }
    });
    if (count === 1) {   // a link to one verdict (e.g. #control=QEMU-013&host=weak) opens it
      items.forEach(function (el) { if (!el.hidden) { el.open = true; } });
    }
    shown.textContent = String(count);
    noMatch.hidden = count > 0;
    document.body.classList.toggle("filtered", count !== items.length);
  }

  function anyFilter(wanted) {
    return KEYS.some(function (k) { return wanted[k]; });
  }

  form.addEventListener("input", function () {
    var wanted = fromForm();
    history.replaceState(null, "", "#" + toHash(wanted));
    apply(wanted);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.getElementById("clear-filters").addEventListener("click", function () {
    form.reset();
    history.replaceState(null, "", window.location.pathname + window.location.search);
    apply(fromForm());
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    items.forEach(function (el) { if (!el.hidden) { el.open = true; } });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    items.forEach(function (el) { el.open = false; });
  });

  function fromAddress() {
    var wanted = fromHash();
    showInForm(wanted);
    apply(wanted);
    if (anyFilter(wanted)) {
      document.getElementById("details").scrollIntoView();
    }
  }
  window.addEventListener("hashchange", function () {
    // "#hosts" is a section link, not a filter: keep the filters as they are
    if (window.location.hash.indexOf("=") >= 0) { fromAddress(); }
  });
  document.body.classList.add("js");
  fromAddress();
}());
