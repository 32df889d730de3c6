// The reviewer's recent approvals on this page: what goes out, when, whether it went, and
// Undo while the hold lasts. The server has the last word: an undo after sending started is
// refused (409) and the row says so.
"use strict";

import { ApiError, api } from "./api.js";
import { $, clock, h } from "./dom.js";

const KEEP = 8; // rows shown; older ones drop off (their status stays on the ticket)
const FINAL = new Set(["sent", "failed"]);
const recent = new Map(); // ticket id -> the ticket as the API last returned it
const state = { ask: (id) => undo(id) }; // the click handler; the page wraps it for its notices

function utc(iso) { return Date.parse(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`); }

function undoable(t) {
  const d = t.delivery;
  return t.status === "approved" && d !== null && d !== undefined && d.status === "pending" && utc(d.send_after) > Date.now();
}

function status(t) {
  const d = t.delivery;
  if (!d) return t.status === "approved" ? "approved; nothing to send (no channel)" : t.status;
  if (d.status === "sent") return `sent ${clock(d.sent_at)} to ${d.recipient || d.channel}`;
  if (d.status === "failed") return `NOT sent: ${d.last_error || "failed"}`;
  const left = Math.ceil((utc(d.send_after) - Date.now()) / 1000);
  if (d.status === "pending" && !d.attempts && left > 0) return `sends in ${left} s to ${d.recipient || d.channel}`;
  if (!d.attempts) return "sending…";
  return `sending (attempt ${d.attempts + 1}${d.last_error ? `; last: ${d.last_error}` : ""})`;
}

function render() {
  const box = $("#recent");
  if (!box) return;
  box.hidden = recent.size === 0;
  const rows = [...recent.values()].reverse().map((t) => {
    const d = t.delivery;
    const cls = d && d.status === "failed" ? "failed" : d && d.status === "sent" ? "sent" : "pending";
    return h("li", { class: cls, dataset: { id: String(t.id) } },
      h("span", {}, `#${t.id} `, h("span", { class: "delivery-status" }, status(t))),
      undoable(t) ? h("button", { type: "button", class: "undo", onclick: () => state.ask(t.id) }, "Undo (u)") : null);
  });
  $("#recent-list").replaceChildren(...rows);
}

async function refresh() {
  for (const t of [...recent.values()]) {
    if (t.delivery && FINAL.has(t.delivery.status)) continue;
    try { recent.set(t.id, await api("GET", `/tickets/${t.id}`)); } catch { /* next round */ }
  }
  render();
}

/** Show a decision the server accepted (the ticket as POST /tickets/{id}/review returned it). */
export function track(ticket) {
  if (ticket.status !== "approved") return;
  recent.delete(ticket.id);
  recent.set(ticket.id, ticket);
  while (recent.size > KEEP) recent.delete(recent.keys().next().value);
  render();
}

/** Take an approval back; throws the server's refusal (409 once sending started). */
export async function undo(id) {
  try {
    await api("POST", `/tickets/${id}/review/undo`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      try { recent.set(id, await api("GET", `/tickets/${id}`)); } catch { /* keep the old row */ }
      render();
    }
    throw err;
  }
  recent.delete(id);
  render();
}

/** The newest approval that can still be undone (the `u` key), or null. */
export function latestUndoable() {
  const open = [...recent.values()].filter(undoable);
  return open.length ? open[open.length - 1].id : null;
}

/** What an Undo button does (the page adds its notices and reopens the ticket). */
export function onUndoClick(fn) { state.ask = fn; }

setInterval(render, 1000);
setInterval(refresh, 3000);
