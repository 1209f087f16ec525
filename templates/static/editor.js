// The issue editor: under every textarea of a form with data-text-max, a count of the
// characters typed against the limit ("1 234 / 20 000 tecken"), marked when over it, so a
// too long text is seen before saving. A screen reader hears the count through a polite
// status region a moment after typing stops (not on every key).
// Every text shown comes from the form's data attributes, so it stays in the template.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-text-max]");
  if (!forms.length) {
    return;
  }
  var status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  document.body.appendChild(status);
  var timer = null;

  function number(n) {
    return n.toLocaleString("sv-SE");
  }

  function fill(template, n, max) {
    return template
      .replace("{n}", number(n))
      .replace("{max}", number(max))
      .replace("{over}", number(Math.max(0, n - max)));
  }

  function attach(form) {
    var max = Number(form.getAttribute("data-text-max"));
    var areas = form.querySelectorAll("textarea");
    for (var i = 0; i < areas.length; i++) {
      (function (area) {
        var count = document.createElement("p");
        count.className = "text-count";
        count.id = area.id + "-antal";
        area.parentNode.insertBefore(count, area.nextSibling);
        var described = area.getAttribute("aria-describedby");
        area.setAttribute("aria-describedby", (described ? described + " " : "") + count.id);
        function update(announce) {
          var n = area.value.length;
          var over = n > max;
          count.textContent = fill(
            form.getAttribute(over ? "data-text-over" : "data-text-count"), n, max
          );
          count.classList.toggle("over", over);
          if (announce) {
            window.clearTimeout(timer);
            timer = window.setTimeout(function () {
              status.textContent = count.textContent;
            }, 1000);
          }
        }
        area.addEventListener("input", function () {
          update(true);
        });
        update(false);
      })(areas[i]);
    }
  }

  for (var i = 0; i < forms.length; i++) {
    attach(forms[i]);
  }
})();
