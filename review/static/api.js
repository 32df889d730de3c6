// The workspace's only way to the server: same-origin fetch with the session cookie and the
// CSRF token, and the API's messages turned into plain words.
"use strict";

// The session cookie authenticates (HttpOnly: scripts never see it); every write echoes the
// session's CSRF token, which the server put in the page's <meta name="csrf-token">.
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

function authHeaders(method) {
  return method === "GET" || method === "HEAD" ? {} : { "X-CSRF-Token": csrfToken() };
}

// A 401 means the session ended (expired, logged out elsewhere, account disabled).
export function loginAgain() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The API's own messages, where a reviewer needs other words (checked in order).
const PLAIN = [
  [/decision 'edit' needs a non-empty edited_reply/, "Write the reply before saving an edit."],
  [/was triaged again/, "A new message arrived and the draft was written again: the ticket is reloaded, read the new draft."],
  [/was already reviewed/, "Someone already decided this ticket."],
  [/has no draft to review yet/, "This ticket has no draft yet; it is still being triaged."],
  [/not awaiting a decision/, "This ticket was decided already."],
  [/changed while it was being reviewed/, "The ticket changed while you were deciding: it is reloaded, check it again."],
  [/is working on ticket (\d+) \(claimed until ([^)]*)\)/, (m) => `Someone else (${m.input.split(" is working")[0]}) has ticket ${m[1]} open until ${m[2]}. Press j for the next free one.`],
  [/after_id \d+ is not a triaged ticket/, "The list moved on: it is reloaded from the top."],
  [/cannot be approved unedited \((.*)\)\. Edit/, (m) => `This draft cannot be sent as it is: ${m[1].replace(/\.$/, "")}. Edit the reply first (or use the suggested one), or reject it.`],
  [/blocking/i, null], // guardrail refusals are written for people already
];

export function plain(status, detail) {
  if (status === 401) return "Your session has ended: log in again.";
  if (status === 403) return /csrf/i.test(String(detail || ""))
    ? "This page is out of date: reload it and try again."
    : "You are not allowed to do that.";
  if (status === 429) return "Too many attempts: wait a minute and try again.";
  if (status >= 500) return "The server could not do that just now (the database may be busy); try again in a moment.";
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).slice(1).join(".") || "input"}: ${e.msg}`).join("; ");
  }
  const text = String(detail || `the request failed (${status})`);
  for (const [re, say] of PLAIN) {
    const m = text.match(re);
    if (m) return say === null ? text : typeof say === "function" ? say(m) : say;
  }
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json", ...authHeaders(method) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Cannot reach the server: check the connection and try again.");
  }
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  if (!r.ok) throw new ApiError(r.status, plain(r.status, data && data.detail));
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
