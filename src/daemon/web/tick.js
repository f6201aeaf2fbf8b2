// Running task timers tick: every element with `data-since` shows the time since that moment,
// as the server wrote it ("1 ч 05 мин"), again every quarter of a minute. The pages read the
// same without it: the server's figure is right when the page is made.
"use strict";
function tick() {
  for (const el of document.querySelectorAll("[data-since]")) {
    const since = Date.parse(el.dataset.since);
    if (Number.isNaN(since)) continue;
    const minutes = Math.max(0, Math.floor((Date.now() - since) / 60000));
    const h = Math.floor(minutes / 60);
    const m = String(minutes % 60).padStart(2, "0");
    el.textContent = (h > 0 ? `${h} ${el.dataset.h} ` : "") + `${m} ${el.dataset.m}`;
  }
}
tick();
setInterval(tick, 15000);
