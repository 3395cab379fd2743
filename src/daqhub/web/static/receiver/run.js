// Run page: files per agent from the daqhub API, objects drawn in the browser with JSROOT
// (bundled with daqhub), reading the ROOT file through the Range-capable content route.
// Everything taken from uploads (agent names, object names, reasons) is inserted as text.
(() => {
  "use strict";
  const page = document.getElementById("run-page");
  const api = page.dataset.api;
  const run = page.dataset.run;
  let detail = JSON.parse(document.getElementById("run-data").textContent) || { agents: {} };
  let current = null; // {upload, path}

  const DRAWABLE = /^(TH[123]|TProfile|TGraph|TMultiGraph|THStack|TEfficiency|TF[123]|TCanvas)/;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    }
    return node;
  };

  const size = (bytes) => {
    let value = bytes;
    for (const unit of ["B", "KiB", "MiB", "GiB"]) {
      if (value < 1024 || unit === "GiB") return unit === "B" ? `${value} B` : `${value.toFixed(1)} ${unit}`;
      value /= 1024;
    }
    return `${bytes} B`;
  };

  const when = (record) => {
    const utc = record.time_utc ? record.time_utc.replace("T", " ").slice(0, 19) + " UTC" : "";
    const local = record.time_local ? record.time_local.replace("T", " ").slice(0, 19) + " Zurich" : "";
    return el("span", {}, utc, el("br"), el("span", { class: "muted" }, local));
  };

  const allUploads = () => Object.values(detail.agents || {}).flat();

  function objectList(record) {
    const list = el("ul", { class: "objects" });
    for (const item of record.contents || []) {
      const label = `${item.path} (${item.class}${item.entries != null ? `, ${item.entries} entries` : ""})`;
      if (DRAWABLE.test(item.class) && record.state === "stored") {
        list.append(el("li", {}, el("button", {
          type: "button",
          class: "object",
          "data-upload": record.upload_id,
          "data-path": item.path,
          onclick: () => show(record, item.path),
        }, label)));
      } else {
        list.append(el("li", { class: "muted" }, label));
      }
    }
    return list;
  }

  function render() {
    const box = document.getElementById("files");
    box.replaceChildren();
    const agents = Object.keys(detail.agents || {}).sort();
    for (const agent of agents) {
      const rows = detail.agents[agent];
      const table = el("table", { class: "grid files" },
        el("thead", {}, el("tr", {},
          el("th", {}, "Time"), el("th", {}, "File"), el("th", {}, "dataStatus"),
          el("th", {}, "Size"), el("th", {}, "SHA-256"), el("th", {}, "State"),
          el("th", {}, "Objects"))));
      const body = el("tbody");
      for (const record of rows) {
        const valid = record.state !== "invalid" && record.state !== "purged";
        body.append(el("tr", { "data-upload": record.upload_id, class: valid ? "" : "invalid" },
          el("td", {}, when(record)),
          el("td", {}, record.filename),
          el("td", {}, record.data_status),
          el("td", {}, size(record.size)),
          el("td", { class: "mono", title: record.sha256 || "" }, (record.sha256 || "").slice(0, 12)),
          el("td", {}, record.state, record.reason ? el("div", { class: "bad reason" }, record.reason) : ""),
          el("td", {}, valid ? objectList(record) : "")));
      }
      table.append(body);
      box.append(el("section", { class: "agent-files", "data-agent": agent },
        el("h2", {}, agent || "(no agent name)"), table));
    }
  }

  async function drawInto(paneId, uploadId, path) {
    const file = await JSROOT.openFile(`${api}/uploads/${encodeURIComponent(uploadId)}/content`);
    const obj = await file.readObject(path);
    if (!obj) throw new Error(`${path} could not be read`);
    await JSROOT.cleanup(paneId);
    const option = /^TH2|^TProfile2D/.test(obj._typename) ? "colz" : "";
    await JSROOT.draw(paneId, obj, option);
  }

  function fillCompare(record, path) {
    const select = document.getElementById("compare");
    select.replaceChildren(el("option", { value: "" }, "(no comparison)"));
    for (const other of allUploads()) {
      if (other.upload_id === record.upload_id || other.state !== "stored") continue;
      if (!(other.contents || []).some((item) => item.path === path)) continue;
      select.append(el("option", { value: other.upload_id }, `${other.filename} (${other.agent})`));
    }
  }

  async function show(record, path) {
    current = { upload: record, path };
    const viewer = document.getElementById("viewer");
    viewer.hidden = false;
    document.getElementById("viewer-title").textContent = `${path} · ${record.filename}`;
    document.getElementById("pane-a-label").textContent = record.filename;
    document.getElementById("pane-b-box").hidden = true;
    const link = document.getElementById("json-link");
    link.href = `${api}/uploads/${encodeURIComponent(record.upload_id)}/histograms/${path.split("/").map(encodeURIComponent).join("/")}`;
    fillCompare(record, path);
    await draw("pane-a", record.upload_id, path);
  }

  async function draw(paneId, uploadId, path) {
    const error = document.getElementById("draw-error");
    error.hidden = true;
    try {
      await drawInto(paneId, uploadId, path);
      document.getElementById(paneId).dataset.drawn = `${uploadId}:${path}`;
    } catch (exc) {
      error.textContent = `Cannot draw ${path}: ${exc.message || exc}`;
      error.hidden = false;
    }
  }

  document.getElementById("compare").addEventListener("change", async (event) => {
    const box = document.getElementById("pane-b-box");
    const uploadId = event.target.value;
    if (!uploadId || !current) {
      box.hidden = true;
      return;
    }
    const other = allUploads().find((u) => u.upload_id === uploadId);
    document.getElementById("pane-b-label").textContent = other ? other.filename : uploadId;
    box.hidden = false;
    await draw("pane-b", uploadId, current.path);
  });

  async function refresh() {
    const response = await fetch(`${api}/runs/${encodeURIComponent(run)}`, { credentials: "same-origin" });
    if (!response.ok) return;
    detail = await response.json();
    render();
    document.getElementById("no-files")?.remove();
    document.getElementById("live").hidden = false;
  }

  render();
  if (window.EventSource) {
    const source = new EventSource(`${api}/events?run=${encodeURIComponent(run)}`);
    for (const type of ["received", "rejected", "superseded", "consumed"]) {
      source.addEventListener(`receiver.file.${type}`, () => refresh());
    }
  }
})();
