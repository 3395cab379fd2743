// Runs list: reload when the receiver reports a new, rejected or moved file.
(() => {
  "use strict";
  const api = document.currentScript.dataset.api;
  if (!window.EventSource) return;
  let timer = null;
  const source = new EventSource(`${api}/events`);
  const reload = () => {
    if (timer === null) timer = setTimeout(() => window.location.reload(), 1000);
  };
  for (const type of ["received", "rejected", "superseded", "consumed"]) {
    source.addEventListener(`receiver.file.${type}`, reload);
  }
})();
