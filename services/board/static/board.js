// The board's live updates: server-sent events from /events replace a site's column (HTML
// rendered and escaped by the server) and the link header, with no reload of the page.
"use strict";
(function () {
  const board = { loadedAt: Date.now(), updates: 0, connected: false };
  window.twinlineBoard = board;
  // When each row (a resource at one revision: data-key) was first on this page, in ms.
  const firstSeen = new Map();

  function stamp(root, fresh) {
    const now = Date.now();
    root.querySelectorAll("[data-key]").forEach(function (row) {
      const key = row.dataset.key;
      if (!firstSeen.has(key)) {
        firstSeen.set(key, now);
        if (fresh) {
          row.classList.add("fresh");
          window.setTimeout(function () { row.classList.remove("fresh"); }, 4000);
        }
      }
      row.dataset.firstSeen = String(firstSeen.get(key));
    });
  }

  function say(text) {
    const state = document.getElementById("live-state");
    if (state) { state.textContent = text; }
  }

  stamp(document, false);
  const source = new EventSource("/events");
  source.addEventListener("open", function () { board.connected = true; say("live"); });
  source.addEventListener("column", function (event) {
    const update = JSON.parse(event.data);
    const column = document.querySelector('[data-column="' + CSS.escape(update.site) + '"]');
    if (column === null) { return; }
    column.innerHTML = update.html;
    stamp(column, true);
    board.updates += 1;
  });
  source.addEventListener("link", function (event) {
    const link = document.getElementById("link");
    if (link !== null) { link.innerHTML = JSON.parse(event.data).html; }
  });
  source.addEventListener("status", function (event) { say(JSON.parse(event.data).text); });
  source.addEventListener("logout", function () {
    source.close();
    window.location.assign("/login");
  });
  source.addEventListener("error", function () {
    board.connected = false;
    if (source.readyState === EventSource.CLOSED) {
      // Refused (e.g. logged out elsewhere): the page itself says why, or asks to log in.
      say("disconnected");
      window.setTimeout(function () { window.location.reload(); }, 5000);
    } else {
      say("reconnecting…");
    }
  });
})();
