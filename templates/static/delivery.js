// The delivery page while an issue is sending: every few seconds, fetch the page again and
// swap in its live parts ([data-live-part], matched by id) whose text changed. No reload:
// focus and the screen reader's place stay put. A change of status is announced through
// the polite status region. The button stops and restarts the updates (WCAG 2.2.2); its
// label says what pressing it will do.
// Every text shown comes from the page itself, so it stays in the template.
(function () {
  "use strict";
  var marker = document.querySelector("[data-live-interval]");
  if (!marker || !window.fetch || !window.DOMParser) {
    return;
  }
  var interval = 1000 * Number(marker.getAttribute("data-live-interval"));
  var announce = document.getElementById("leverans-meddelande");
  var button = null;  // set by bind(), again whenever its part is swapped
  var timer = null;
  var running = true;

  function text(node) {
    return node ? node.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function swap(fresh) {
    var parts = document.querySelectorAll("[data-live-part]");
    for (var i = 0; i < parts.length; i++) {
      var old = parts[i];
      var replacement = fresh.getElementById(old.id);
      if (!replacement || text(replacement) === text(old)) {
        continue;
      }
      var hadFocus = old.contains(document.activeElement);
      var node = document.importNode(replacement, true);
      old.parentNode.replaceChild(node, old);
      if (hadFocus) {
        // The focused control may be gone (the send ended): keep focus in the same place.
        node.setAttribute("tabindex", "-1");
        node.focus();
      }
    }
  }

  function update() {
    var before = text(document.getElementById("leverans-status"));
    fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("not the delivery page");  // e.g. logged out: stop quietly
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        swap(fresh);
        var after = text(document.getElementById("leverans-status"));
        if (after !== before) {
          announce.textContent = after;
        }
        if (fresh.querySelector("[data-live-interval]")) {
          bind();
          schedule();
        } else {
          running = false;  // sent, cancelled or paused: nothing more to follow
        }
      })
      .catch(function () {
        running = false;
      });
  }

  function schedule() {
    if (running) {
      timer = window.setTimeout(update, interval);
    }
  }

  function toggle() {
    running = !running;
    window.clearTimeout(timer);
    label();
    schedule();
  }

  function label() {
    if (!button) {
      return;
    }
    button.textContent = button.getAttribute(running ? "data-label-pause" : "data-label-resume");
  }

  // The button is replaced with its part when that part's text changes: bind it anew.
  function bind() {
    var current = document.getElementById("leverans-auto");
    if (current && current !== button) {
      button = current;
      button.hidden = false;
      button.addEventListener("click", toggle);
      label();
    }
  }

  bind();
  schedule();
})();
