// The workspace: sign-in, stats, opening (claiming) tickets, decisions, keyboard shortcuts.
"use strict";

import { ApiError, api, loginAgain, query } from "./api.js";
import { $, clock, duration } from "./dom.js";
import { drop, filterValues, loadFacets, more, neighbour, queue, reload, restoreFilters, toggle } from "./queue.js";
import { latestUndoable, onUndoClick, track, undo } from "./sent.js";
import { corrections, renderTicket, togglePrompt } from "./ticket.js";

const state = { detail: null, taxonomy: {}, me: "", lastActivity: Date.now() };
const EMPTY = $("#ticket-empty");

function notice(text, kind = "ok") {
  const el = $("#notice");
  el.textContent = text;
  el.className = text ? kind : "";
}

// Actions run one after another in the order asked (a key pressed while the page is loading
// is not lost); a decision acts only on the ticket that was on screen when it was asked.
let chain = Promise.resolve();
function guarded(fn) {
  chain = chain.then(fn).catch((err) => {
    notice(err instanceof ApiError ? err.message : `Something went wrong in the page: ${err}`, "error");
    if (err instanceof ApiError && err.status === 401) setTimeout(loginAgain, 1500);
  });
  return chain;
}

function onScreen(d) { return d !== null && d === state.detail; }

async function refreshStats() {
  const s = await api("GET", "/review/stats");
  $("#st-awaiting").textContent = s.awaiting;
  $("#st-today").textContent = s.reviewed_today;
  $("#st-mine").textContent = s.mine_today;
  $("#st-median").textContent = duration(s.median_decision_s);
}

function show(detail) {
  state.detail = detail;
  queue.currentId = detail ? detail.ticket.id : null;
  if (!detail) {
    $("#ticket").replaceChildren(EMPTY);
    return;
  }
  renderTicket(detail, state.taxonomy, state.me, {
    approve: () => guarded(() => approve(detail)),
    reject: () => guarded(() => reject(detail)),
    select: () => toggle(detail.ticket),
    prompt: () => guarded(() => togglePrompt(detail)),
  });
  const row = document.querySelector(`#queue-list li[data-id="${detail.ticket.id}"]`);
  for (const li of document.querySelectorAll("#queue-list li.current")) li.classList.remove("current");
  if (row) { row.classList.add("current"); row.scrollIntoView({ block: "nearest" }); }
}

async function open(id) {
  show(await api("POST", `/tickets/${id}/claim`));
  notice(`Ticket #${id} is yours for a few minutes.`);
}

async function next() {
  const after = state.detail ? state.detail.ticket.id : undefined;
  const detail = await api("POST", `/review/next${query({ ...filterValues(), after_id: after })}`);
  if (!detail) {
    notice(state.detail ? "No other free ticket in this filter." : "Nothing left to review in this filter.", "ok");
    return;
  }
  show(detail);
  notice(`Ticket #${detail.ticket.id} is yours for a few minutes.`);
}

async function previous() {
  const current = state.detail ? state.detail.ticket.id : null;
  const prev = neighbour(current, -1);
  if (!prev) { notice("This is the first ticket in the list."); return; }
  await open(prev.id);
}

async function decided(id, message) {
  drop([id]);
  notice(message);
  state.detail = null;
  await Promise.all([refreshStats(), loadFacets()]);
  const detail = await api("POST", `/review/next${query({ ...filterValues(), after_id: id })}`);
  show(detail);
  if (!detail) notice(`${message} Nothing else is free in this filter.`);
}

async function afterConflict(err) {
  // A re-triage or a change meanwhile: show the ticket as it is now.
  if (err instanceof ApiError && err.status === 409 && state.detail && !/someone else/i.test(err.message)) {
    try { show(await api("POST", `/tickets/${state.detail.ticket.id}/claim`)); } catch { show(null); }
  }
  throw err;
}

async function approve(d) {
  if (!d) { notice("Open a ticket first: press j.", "error"); return; }
  if (!onScreen(d)) return; // asked twice, or the ticket changed meanwhile
  const tri = d.ticket.triage;
  const text = $("#draft").value;
  const edited = text !== tri.draft_reply;
  const body = { decision: edited ? "edit" : "approve", revision: tri.revision, ...corrections() };
  if (edited) body.edited_reply = text;
  let done;
  try {
    done = await api("POST", `/tickets/${d.ticket.id}/review`, body);
  } catch (err) { await afterConflict(err); }
  track(done);
  const hold = done.delivery ? " It is sent after the hold time: u (or Undo under the queue) takes it back until then." : "";
  await decided(d.ticket.id, `${edited ? `Saved your edit of #${d.ticket.id} (decision: edit).` : `Approved #${d.ticket.id}.`}${hold}`);
}

function askReason(title, preset, editNote) {
  const dialog = $("#reject-dialog");
  $("#reject-title").textContent = title;
  $("#reject-reason").value = preset;
  $("#reject-edit-note").hidden = !editNote;
  dialog.returnValue = "";
  dialog.showModal();
  $("#reject-reason").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const reason = $("#reject-reason").value.trim();
      resolve(dialog.returnValue === "ok" && reason ? reason : null);
    }, { once: true });
  });
}

async function reject(d) {
  if (!d) { notice("Open a ticket first: press j.", "error"); return; }
  if (!onScreen(d)) return;
  const tri = d.ticket.triage;
  const text = $("#draft").value;
  const edited = text !== tri.draft_reply;
  const reason = await askReason(`Reject #${d.ticket.id}`, "", edited);
  if (!reason) { notice("Not rejected: a rejection needs a reason."); return; }
  const note = edited ? `${reason}\n\n--- edited reply (not sent) ---\n${text}` : reason;
  try {
    await api("POST", `/tickets/${d.ticket.id}/review`, { decision: "reject", revision: tri.revision, note, ...corrections() });
  } catch (err) { await afterConflict(err); }
  await decided(d.ticket.id, `Rejected #${d.ticket.id}; nothing is sent.`);
}

async function bulkReject() {
  const tickets = [...queue.selected.values()];
  if (!tickets.length) return;
  const reason = await askReason(`Reject ${tickets.length} selected`, "spam", false);
  if (!reason) { notice("Not rejected: a rejection needs a reason."); return; }
  const out = await api("POST", "/review/bulk-reject", { tickets, note: reason });
  drop(out.rejected);
  queue.selected.clear();
  drop([]);
  if (state.detail && out.rejected.includes(state.detail.ticket.id)) show(null);
  const failed = out.failed.map((f) => `#${f.id}: ${f.reason}`).join("; ");
  notice(`Rejected ${out.rejected.length}.${failed ? ` Not rejected: ${failed}` : ""}`, failed ? "error" : "ok");
  await Promise.all([refreshStats(), loadFacets()]);
}

// Undo: the approval and its reply are withdrawn, and the ticket is opened (claimed) again.
async function undoAndReopen(id) {
  if (id === null) { notice("Nothing to undo: no approval of yours is still on hold.", "error"); return; }
  await undo(id);
  await Promise.all([reload(), refreshStats(), loadFacets()]);
  await open(id);
  notice(`Undone: nothing was sent for #${id}; it is open again for your decision.`);
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

const KEYS = {
  j: () => guarded(next),
  k: () => guarded(previous),
  a: () => { const d = state.detail; guarded(() => approve(d)); },
  e: () => { const d = $("#draft"); if (d) d.focus(); else notice("Open a ticket first: press j.", "error"); },
  r: () => { const d = state.detail; guarded(() => reject(d)); },
  l: () => { const s = $("#labels select"); if (s) s.focus(); else notice("Open a ticket first: press j.", "error"); },
  x: () => { if (state.detail) toggle(state.detail.ticket); },
  u: () => guarded(() => undoAndReopen(latestUndoable())),
  p: () => { if (state.detail) guarded(() => togglePrompt(state.detail)); },
  "/": () => $("#filter-form").elements.q.focus(),
  "?": () => $("#help").showModal(),
};

function onKey(ev) {
  state.lastActivity = Date.now();
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  if (ev.key === "Escape" && typing(ev.target)) { ev.target.blur(); return; }
  if (typing(ev.target)) return;
  const act = KEYS[ev.key];
  if (!act) return;
  ev.preventDefault();
  act();
}

// While the reviewer is active, their claim is renewed before it runs out.
async function renew() {
  const d = state.detail;
  if (!d || Date.now() - state.lastActivity > 120_000) return;
  try {
    const fresh = await api("POST", `/tickets/${d.ticket.id}/claim`);
    d.ticket.claimed_until = fresh.ticket.claimed_until;
    const span = $("#claim");
    if (span) span.textContent = ` · Yours until ${clock(fresh.ticket.claimed_until)}`;
  } catch (err) {
    if (err instanceof ApiError) notice(err.message, "error");
  }
}

async function start() {
  const session = await api("GET", "/session");
  state.me = session.username;
  $("#me").textContent = `${session.username} (${session.role})`;
  state.taxonomy = await api("GET", "/taxonomy");
  await Promise.all([reload(), loadFacets(), refreshStats()]);
}

async function logout() {
  try { await api("POST", "/logout"); } catch { /* the session may have ended already */ }
  location.assign("/login");
}

function wire() {
  restoreFilters();
  queue.onOpen = (id) => guarded(() => open(id));
  onUndoClick((id) => guarded(() => undoAndReopen(id)));
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", () => { state.lastActivity = Date.now(); });
  $("#logout").addEventListener("click", () => guarded(logout));
  $("#reject-reason").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target.value.trim()) $("#reject-dialog").close("ok");
  });
  $("#help-open").addEventListener("click", () => $("#help").showModal());
  $("#next").addEventListener("click", () => guarded(next));
  $("#more").addEventListener("click", () => guarded(more));
  $("#bulk-reject").addEventListener("click", () => guarded(bulkReject));
  $("#bulk-clear").addEventListener("click", () => { queue.selected.clear(); drop([]); });
  const form = $("#filter-form");
  let timer = null;
  const refilter = () => guarded(async () => { await Promise.all([reload(), loadFacets()]); });
  form.addEventListener("change", refilter);
  form.addEventListener("input", (ev) => {
    if (ev.target.name !== "q") return;
    clearTimeout(timer);
    timer = setTimeout(refilter, 300);
  });
  form.addEventListener("reset", () => setTimeout(refilter, 0));
  setInterval(() => guarded(refreshStats), 30_000);
  setInterval(renew, 60_000);
}

wire();
guarded(start);
