// Live view of the connectivity registry: partitions, entries grouped by publisher, ages
// against the TTL. Reloads the JSON views whenever the event stream reports a change, and
// re-renders ages every second. Everything from the server is inserted as text, never HTML.
"use strict";

const state = { ttl: Number(document.body.dataset.ttl), partitions: [], entries: {}, loadedAt: 0 };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function reload() {
  state.partitions = await getJSON("/api/v1/partitions");
  const details = await Promise.all(
    state.partitions.map((p) => getJSON(`/api/v1/partitions/${encodeURIComponent(p.partition)}`))
  );
  state.entries = Object.fromEntries(state.partitions.map((p, i) => [p.partition, details[i]]));
  state.loadedAt = Date.now();
  render();
}

function matches(entry, uidFilter, typeFilter) {
  if (typeFilter && entry.data_type !== typeFilter) return false;
  if (!uidFilter) return true;
  try {
    return new RegExp(`^(?:${uidFilter})$`).test(entry.uid);
  } catch {
    return entry.uid.includes(uidFilter);
  }
}

function render() {
  const uidFilter = document.getElementById("uid-filter").value.trim();
  const typeFilter = document.getElementById("type-filter").value.trim();
  const elapsed = (Date.now() - state.loadedAt) / 1000;
  const root = document.getElementById("partitions");
  root.replaceChildren();
  if (state.partitions.length === 0) root.append(el("p", {}, "No partitions."));
  for (const summary of state.partitions) {
    const section = el("section", { class: "partition", "data-partition": summary.partition });
    section.append(
      el("h2", {}, summary.partition, " ",
        el("small", {}, `${summary.live} live, ${summary.expired} expired`))
    );
    const groups = new Map();
    for (const entry of state.entries[summary.partition] || []) {
      if (!matches(entry, uidFilter, typeFilter)) continue;
      const key = entry.publisher || "unknown";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(entry);
    }
    for (const [publisher, entries] of groups) {
      const table = el("table", { class: "entries" },
        el("caption", {}, `publisher ${publisher}`),
        el("tr", {}, ...["uid", "uri", "data_type", "connection_type", "capacity", "age"].map((h) => el("th", {}, h))));
      for (const entry of entries) {
        const age = entry.age_s + elapsed;
        const expired = age >= state.ttl;
        const row = el("tr", { class: expired ? "expired" : "live" },
          el("td", {}, entry.uid), el("td", {}, entry.uri), el("td", {}, entry.data_type),
          el("td", {}, entry.connection_type), el("td", {}, entry.capacity),
          el("td", {}, `${age.toFixed(1)} s / ${state.ttl} s`));
        table.append(row);
      }
      section.append(table);
    }
    root.append(section);
  }
  document.getElementById("status").textContent =
    `${state.partitions.length} partitions, updated ${new Date(state.loadedAt).toLocaleTimeString()}`;
}

let pending = null;
function scheduleReload() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; reload().catch(showError); }, 200);
}

function showError(error) {
  document.getElementById("status").textContent = `error: ${error.message}`;
}

document.getElementById("uid-filter").addEventListener("input", render);
document.getElementById("type-filter").addEventListener("input", render);
const events = new EventSource("/api/v1/events");
events.onmessage = scheduleReload;
for (const kind of ["partition.created", "connection.added", "connection.changed", "connection.expired",
  "connection.revived", "connection.retracted", "partition.retracted", "service.reset"]) {
  events.addEventListener(`connectivity.${kind}`, scheduleReload);
}
setInterval(render, 1000);
reload().catch(showError);
