// Refreshes the live queue without reloading the page (the only script; no inline code).
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const every = Number(live.dataset.every) || 3000;
  async function refresh() {
    try {
      const response = await fetch(live.dataset.src, {credentials: "same-origin",
                                                       redirect: "manual"});
      if (response.ok) live.innerHTML = await response.text();
    } catch (e) { /* offline for a moment: try again next round */ }
    setTimeout(refresh, every);
  }
  setTimeout(refresh, every);
})();
