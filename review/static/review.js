"use strict";
const $ = (s, el = document) => el.querySelector(s);
// The session cookie authenticates; every write echoes the page's CSRF token.
const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";
const writeHeaders = (json) => Object.assign({ "X-CSRF-Token": csrf() }, json ? { "Content-Type": "application/json" } : {});
// A 401 means the session ended (expired, logged out, account disabled): log in again.
const loginAgain = (r) => { if (r.status === 401) location.assign("/login?next=/ui"); };

function fill(select, current, labels) {
  select.append(new Option("(keep)", ""));
  for (const l of labels) select.append(new Option(l, l, false, false));
  select.dataset.current = current;
}

async function decide(t, box, decision) {
  const status = $(".status", box);
  const draft = $(".draft", box).value;
  const body = { decision, revision: t.triage.revision };
  if (decision !== "reject" && draft.trim() !== t.triage.draft_reply.trim()) {
    body.decision = "edit"; body.edited_reply = draft;
  }
  for (const f of ["category", "priority", "sentiment"]) {
    const v = $(".c-" + f, box).value;
    if (v && v !== t.triage[f]) body["corrected_" + f] = v;
  }
  let r;
  try {
    r = await fetch(`/tickets/${t.id}/review`, { method: "POST",
      headers: writeHeaders(true),
      body: JSON.stringify(body) });
  } catch (err) { status.className = "status error"; status.textContent = `not sent: ${err}`; return; }
  const out = await r.json().catch(() => ({}));
  loginAgain(r);
  if (r.ok) { status.className = "status"; box.querySelectorAll("button").forEach(b => b.disabled = true);
              showDelivery(t, box, out); }
  else { status.className = "status error"; status.textContent = problem(r, out); }
}

// What will be sent, and its status until it is sent or failed; Undo while it is on hold.
function showDelivery(t, box, ticket) {
  const status = $(".status", box), undo = $(".undo", box), d = ticket.delivery;
  box.style.opacity = .6;
  if (!d) { status.textContent = ticket.status; undo.hidden = true; return; }
  const to = d.channel === "email" ? `by email to ${d.recipient}` : "to the webhook endpoints";
  const when = d.status === "pending" ? ` (sends after ${new Date(d.send_after).toLocaleTimeString()})` : "";
  status.textContent = `${ticket.status}: reply ${d.status} ${to}, "${d.subject}"${when}` +
    (d.last_error ? ` (${d.last_error})` : "");
  status.className = d.status === "failed" ? "status error" : "status";
  const onHold = d.status === "pending" && d.attempts === 0 && new Date(d.send_after) > new Date();
  undo.hidden = !onHold; undo.disabled = !onHold;
  undo.onclick = async () => {
    const r = await fetch(`/tickets/${t.id}/review/undo`, { method: "POST", headers: writeHeaders(false) });
    const out = await r.json().catch(() => ({}));
    if (r.ok) { status.textContent = "approval undone: decide again"; undo.hidden = true; box.style.opacity = 1;
                box.querySelectorAll("button").forEach(b => b.disabled = false); }
    else { status.className = "status error"; status.textContent = problem(r, out); }
  };
  if (d.status === "pending" || d.status === "sending") {
    setTimeout(async () => {
      try { showDelivery(t, box, await getJson(`/tickets/${t.id}`)); }
      catch (err) { status.textContent += ` (status unknown: ${err.message})`; }
    }, 2000);
  }
}

// An error response as one readable line: FastAPI's detail, else the HTTP status.
function problem(r, out) {
  const d = out && out.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map(e => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  return `${r.status} ${r.statusText}`;
}

async function getJson(url) {
  const r = await fetch(url);
  const out = await r.json().catch(() => ({}));
  loginAgain(r);
  if (!r.ok) throw new Error(`${url}: ${problem(r, out)}`);
  return out;
}

async function load() {
  const queue = $("#queue"); queue.replaceChildren();
  let page, tax;
  try {
    [page, tax] = await Promise.all([getJson("/review?limit=100"), getJson("/taxonomy")]);
  } catch (err) {
    $("#summary").textContent = `could not load the review queue: ${err.message}`;
    $("#summary").className = "meta error";
    return;
  }
  $("#summary").className = "meta";
  $("#summary").textContent = `${page.total} awaiting a decision`;
  for (const t of page.items) {
    const box = $("#tpl").content.firstElementChild.cloneNode(true);
    const r = t.triage;
    box.classList.add("prio-" + r.priority);
    $(".meta", box).textContent = `#${t.id} · ${t.source} · ${t.customer_email || "no email"} · received ${t.received_at || t.created_at}`;
    $(".subject", box).textContent = t.subject || "(no subject)";
    $(".body", box).textContent = t.body;
    const labels = $(".labels", box);
    for (const f of ["category", "priority", "sentiment", "language"]) {
      const s = document.createElement("span");
      s.textContent = `${f}: ${r[f]} ${(r[f + "_confidence"] * 100).toFixed(0)}%`;
      labels.append(s);
    }
    if (t.flag) {
      const s = document.createElement("span"); s.className = "warn flag";
      s.textContent = `\u26a0 ${t.flag}` + (t.linked_ticket_id ? ` (see #${t.linked_ticket_id})` : "");
      labels.append(s);
    } else if (t.sender_verified === false) {
      const s = document.createElement("span"); s.className = "warn";
      s.textContent = "sender not authenticated: no customer history used"; labels.append(s);
    }
    if (r.needs_human_triage) {
      const s = document.createElement("span"); s.className = "warn";
      const alts = (r.alternatives.category || []).map(a => `${a.label} ${(a.confidence * 100).toFixed(0)}%`).join(", ");
      s.textContent = `needs human triage; also: ${alts}`; labels.append(s);
    }
    const cite = c => `[${c.n}] ${c.title}`;
    const cited = r.citations.filter(c => c.cited), shown = r.citations.filter(c => !c.cited);
    $(".cites", box).textContent = !r.citations.length ? "No help article matched."
      : [cited.length ? "Cited: " + cited.map(cite).join("  ") : "The draft cites no article.",
         shown.length ? "Also shown to the model: " + shown.map(cite).join("  ") : ""].join("  ").trim();
    $(".draft", box).value = r.draft_reply;
    const p = t.reply_preview;
    $(".sendto", box).textContent = !p ? "" : p.channel === "email"
      ? `Approving sends this reply by email to ${p.recipient || "(no address: it will fail)"}, subject "${p.subject}".`
      : "Approving sends this reply to the webhook endpoints (the ticket has no email address).";
    // Guardrail findings: blocking ones keep the draft from being approved unedited.
    for (const w of r.warnings || []) {
      const li = document.createElement("li");
      li.className = w.blocking ? "blocking" : (w.fixed ? "fixed" : "");
      li.textContent = `${w.blocking ? "Must fix" : (w.fixed ? "Fixed" : "Check")}: ${w.message}`;
      $(".warnings", box).append(li);
    }
    if (r.suggestion) {
      const sg = $(".suggestion", box); sg.hidden = false;
      $(".source", sg).textContent = `${r.suggestion.source} (similarity ${(r.suggestion.similarity * 100).toFixed(0)}%)`;
      $("pre", sg).textContent = r.suggestion.reply;
      $(".use", sg).onclick = () => { $(".draft", box).value = r.suggestion.reply; };
    }
    fill($(".c-category", box), r.category, tax.categories);
    fill($(".c-priority", box), r.priority, tax.priorities);
    fill($(".c-sentiment", box), r.sentiment, tax.sentiments);
    $(".approve", box).onclick = () => decide(t, box, "approve");
    $(".reject", box).onclick = () => decide(t, box, "reject");
    queue.append(box);
  }
}
$("#reload").onclick = load;
$("#logout").onclick = async () => {
  await fetch("/logout", { method: "POST", headers: writeHeaders(false) }).catch(() => null);
  location.assign("/login");
};
getJson("/session").then(s => { $("#who").textContent = `${s.username} (${s.role})`; }).catch(() => null);
load();
