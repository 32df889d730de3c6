// The queue: filters (kept in the address bar), counts per value, keyset pages, selection.
"use strict";

import { api, query } from "./api.js";
import { $, ago, h, pct } from "./dom.js";

const PAGE = 50;
const FIELDS = ["q", "category", "priority", "language", "sentiment", "source", "needs_triage",
  "min_confidence", "max_confidence", "min_age_h", "max_age_h"];

export const queue = { items: [], total: 0, selected: new Map(), onOpen: null, currentId: null };

export function filterValues() {
  const form = $("#filter-form");
  const out = {};
  for (const name of FIELDS) {
    const v = form.elements[name].value.trim();
    if (v !== "") out[name] = v;
  }
  return out;
}

export function restoreFilters() {
  const params = new URLSearchParams(location.search);
  const form = $("#filter-form");
  for (const name of FIELDS) {
    const v = params.get(name);
    if (v === null) continue;
    const el = form.elements[name];
    if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === v)) el.append(h("option", { value: v }, v));
    el.value = v;
  }
}

function remember(filters) {
  history.replaceState(null, "", `/ui${query(filters)}`);
}

export async function loadFacets() {
  const filters = filterValues();
  const counts = await api("GET", `/review/facets${query(filters)}`);
  for (const select of document.querySelectorAll("#filter-form select[data-facet]")) {
    const facet = select.dataset.facet;
    const chosen = select.value;
    const values = counts[facet] || {};
    const options = [h("option", { value: "" }, "any")];
    for (const [value, n] of Object.entries(values)) {
      options.push(h("option", { value }, `${facet === "needs_triage" ? (value === "true" ? "yes" : "no") : value} (${n})`));
    }
    if (chosen && !(chosen in values)) options.push(h("option", { value: chosen }, `${chosen} (0)`));
    select.replaceChildren(...options);
    select.value = chosen;
  }
}

function row(t) {
  const tri = t.triage || {};
  const selected = queue.selected.has(t.id);
  const box = h("input", {
    type: "checkbox", checked: selected, "aria-label": `select ticket ${t.id}`,
    onclick: (ev) => { ev.stopPropagation(); toggle(t); },
  });
  const li = h("li", {
    dataset: { id: String(t.id) },
    class: [t.id === queue.currentId ? "current" : "", t.claimed_by ? "claimed" : ""].join(" ").trim(),
    onclick: () => queue.onOpen && queue.onOpen(t.id),
  },
  box,
  h("div", {},
    h("div", { class: "subject" }, `#${t.id} `, t.subject || "(no subject)"),
    h("div", { class: "meta" },
      h("span", { class: `pill prio-${tri.priority || ""}` }, tri.priority || "?"),
      tri.needs_human_triage ? h("span", { class: "pill triage" }, "needs triage") : null,
      `${tri.category || "?"} ${tri.category_confidence !== undefined ? pct(tri.category_confidence) : ""}`,
      ` · ${t.customer_name || t.customer_email || "unknown sender"} · ${ago(t.created_at)}`,
      t.claimed_by ? ` · open by ${t.claimed_by}` : "")));
  return li;
}

export function render() {
  $("#queue-list").replaceChildren(...queue.items.map(row));
  $("#queue-total").textContent = `${queue.total} awaiting in this filter`;
  $("#more").hidden = queue.items.length >= queue.total;
  const n = queue.selected.size;
  $("#bulk").hidden = n === 0;
  $("#bulk-count").textContent = `${n} selected`;
}

export async function reload() {
  const filters = filterValues();
  remember(filters);
  const page = await api("GET", `/review${query({ ...filters, limit: PAGE })}`);
  queue.items = page.items;
  queue.total = page.total;
  render();
}

export async function more() {
  const last = queue.items[queue.items.length - 1];
  if (!last) return reload();
  const page = await api("GET", `/review${query({ ...filterValues(), limit: PAGE, after_id: last.id })}`);
  const known = new Set(queue.items.map((t) => t.id));
  queue.items.push(...page.items.filter((t) => !known.has(t.id)));
  queue.total = queue.items.length + Math.max(0, page.total - page.items.length);
  render();
}

export function toggle(t) {
  if (queue.selected.has(t.id)) queue.selected.delete(t.id);
  else queue.selected.set(t.id, { id: t.id, revision: (t.triage && t.triage.revision) || t.revision });
  render();
}

export function drop(ids) {
  const gone = new Set(ids);
  queue.items = queue.items.filter((t) => !gone.has(t.id));
  queue.total = Math.max(0, queue.total - gone.size);
  for (const id of gone) queue.selected.delete(id);
  render();
}

export function neighbour(id, step) {
  const i = queue.items.findIndex((t) => t.id === id);
  if (i < 0) return queue.items[step > 0 ? 0 : queue.items.length - 1] || null;
  return queue.items[i + step] || null;
}
