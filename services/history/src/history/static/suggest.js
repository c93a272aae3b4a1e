// Suggestions for the Submit-a-request form, as the customer types (our own script; the
// form works the same without it). Text goes in with textContent only: nothing the server
// or the customer wrote is ever parsed as HTML.
"use strict";
(function () {
  var form = document.getElementById("request-form");
  if (!form || !window.fetch) { return; }
  var box = document.getElementById("suggestion");
  var category = form.elements.namedItem("category");
  var subject = form.elements.namedItem("subject");
  var description = form.elements.namedItem("description");
  var csrf = form.elements.namedItem("csrf_token").value;
  var timer = null;
  var inflight = null;
  var asked = "";

  function fill(template, value) { return template.replace("%(category)s", value); }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  function show(answer) {
    box.replaceChildren();
    var suggested = answer.suggested_category;
    if (suggested && suggested.id !== category.value) {
      var line = element("p", fill(form.dataset.textLooksLike, suggested.label), "looks-like");
      var use = element("button", form.dataset.textUse, "use-category");
      use.type = "button";
      use.addEventListener("click", function () {
        category.value = suggested.id;
        box.replaceChildren(element("p", fill(form.dataset.textUsed, suggested.label), "used"));
        ask(true);
      });
      line.appendChild(document.createTextNode(" "));
      line.appendChild(use);
      box.appendChild(line);
    }
    if (answer.documents && answer.documents.length) {
      var documents = element("div", "", "documents-needed");
      documents.appendChild(element("p", form.dataset.textDocuments));
      var list = element("ul");
      answer.documents.forEach(function (d) { list.appendChild(element("li", d.label)); });
      documents.appendChild(list);
      box.appendChild(documents);
    }
    (answer.guidance || []).forEach(function (g) {
      var help = element("div", "", "guidance");
      help.appendChild(element("h2", g.title));
      help.appendChild(element("p", g.text));
      if (g.steps && g.steps.length) {
        var steps = element("ol");
        g.steps.forEach(function (s) { steps.appendChild(element("li", s)); });
        help.appendChild(steps);
      }
      box.appendChild(help);
    });
    box.hidden = box.childElementCount === 0;
  }

  function ask(force) {
    var body = JSON.stringify({
      subject: subject.value, description: description.value, category: category.value
    });
    if (!force && body === asked) { return; }
    asked = body;
    if (inflight) { inflight.abort(); }
    inflight = new AbortController();
    fetch(form.dataset.suggestUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body,
      credentials: "same-origin",
      signal: inflight.signal
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (answer && answer.available) { show(answer); }
    }).catch(function () { /* no suggestion: the form works as it is */ });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { ask(false); }, 500);
  }

  subject.addEventListener("input", later);
  description.addEventListener("input", later);
  category.addEventListener("change", later);
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }  // and the Idempotency-Key makes it one request
  });
}());
