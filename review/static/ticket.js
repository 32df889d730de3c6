// The ticket view: thread, attachments, earlier tickets, labels with runner-ups and
// corrections, cited passages, the prompt on demand, warnings, and the draft to decide on.
"use strict";

import { api } from "./api.js";
import { $, ago, clock, h, pct } from "./dom.js";

const CORRECTABLE = { category: "categories", priority: "priorities", sentiment: "sentiments" };

function size(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} kB` : `${n} B`;
}

function thread(messages) {
  return h("section", { id: "thread" }, h("h3", {}, `Conversation (${messages.length})`),
    messages.map((m, i) => h("article", { class: "message" },
      h("div", { class: "meta" }, `${i + 1}. ${m.sender || "unknown sender"} · ${m.received_at ? ago(m.received_at) : ""}`),
      m.subject ? h("div", { class: "msg-subject" }, m.subject) : null,
      h("pre", { class: "msg-body" }, m.body),
      m.attachments.length
        ? h("ul", { class: "attachments meta" }, m.attachments.map((a) => h("li", {}, `attachment: ${a.filename} (${a.content_type || "?"}, ${size(a.size || 0)}; not stored)`)))
        : null)));
}

function earlier(list) {
  if (!list.length) return h("section", { id: "earlier" }, h("h3", {}, "Earlier tickets"), h("p", { class: "meta" }, "None from this address."));
  return h("section", { id: "earlier" }, h("h3", {}, `Earlier tickets (${list.length})`),
    h("ul", {}, list.map((e) => h("li", {},
      `#${e.id} `, e.subject || "(no subject)",
      h("span", { class: "meta" }, ` · ${e.category || "?"} · ${e.decision || e.status} · ${ago(e.created_at)}`)))));
}

function labels(list, taxonomy) {
  return h("section", { id: "labels" }, h("h3", {}, "Labels (l to correct)"),
    h("div", { class: "labels" }, list.map((l) => {
      const options = taxonomy[CORRECTABLE[l.field]];
      const select = options ? h("select", { "data-field": l.field, "aria-label": `correct ${l.field}` },
        h("option", { value: "" }, "(keep)"),
        options.filter((o) => o !== l.value).map((o) => h("option", { value: o }, o))) : null;
      return h("div", { class: "label", dataset: { field: l.field } },
        h("div", {}, h("b", {}, `${l.field}: `), l.value, h("span", { class: "meta" }, ` ${pct(l.confidence)}`)),
        l.runner_ups.length
          ? h("div", { class: "meta" }, "runner-ups: ", l.runner_ups.map((a) => `${a.label} ${pct(a.confidence)}`).join(" · "))
          : null,
        select);
    })));
}

function passages(list) {
  if (!list.length) return h("section", { id: "passages" }, h("h3", {}, "Help passages"), h("p", { class: "meta" }, "The draft was given no help passage."));
  return h("section", { id: "passages" }, h("h3", {}, "Help passages given to the model"),
    list.map((p) => h("details", { class: "passage" },
      h("summary", {}, `[${p.n}] `, p.url ? h("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, p.title) : p.title,
        p.cited ? h("span", { class: "pill" }, "cited") : h("span", { class: "meta" }, " not cited")),
      h("pre", {}, p.text === null ? "(this passage is no longer in the knowledge base)" : p.text))));
}

function warnings(list) {
  if (!list || !list.length) return null;
  return h("section", { id: "warnings" }, h("h3", {}, "Warnings"),
    h("ul", { class: "warnings" }, list.map((w) => h("li", { class: w.blocking ? "blocking" : "" },
      w.message || w.code, w.blocking ? " (edit the reply before sending)" : "", w.fixed ? " (fixed)" : ""))));
}

// Where the offered reply comes from, so the reviewer can open that ticket and judge the match.
function suggestionSource(s) {
  const score = typeof s.similarity === "number" ? ` (similarity ${s.similarity.toFixed(2)})` : "";
  if (s.ticket_id) return `Based on the reply approved for #${s.ticket_id}${score}`;
  if (s.template_id) return `Based on the template ${s.template_id}${score}`;
  return `${s.source || "Based on an approved reply"}${score}`;
}

// The previous reply of this ticket (a customer answered it, so it was triaged again).
function lastDelivery(d) {
  if (d.status === "sent") return `The previous reply was sent ${ago(d.sent_at)} to ${d.recipient || d.channel}.`;
  if (d.status === "failed") return `The previous reply was NOT sent: ${d.last_error || "failed"}.`;
  return `The previous reply is ${d.status} (${d.channel}).`;
}

export async function togglePrompt(detail) {
  const box = $("#prompt");
  if (!box) return;
  if (box.childElementCount > 1) { box.lastChild.remove(); return; }
  if (!detail.has_prompt) { box.append(h("p", { class: "meta" }, "No prompt was kept for this draft (drafted before prompts were stored, or a canned reply).")); return; }
  const chat = await api("GET", `/tickets/${detail.ticket.id}/prompt`);
  box.append(h("div", {}, chat.map((m) => h("div", {}, h("b", {}, m.role), h("pre", { class: "prompt" }, m.content)))));
}

export function renderTicket(detail, taxonomy, me, handlers) {
  const t = detail.ticket;
  const tri = t.triage || {};
  const draft = h("textarea", { id: "draft", "aria-label": "reply to send" });
  draft.value = tri.draft_reply || "";
  draft.addEventListener("input", () => {
    const edited = draft.value !== (tri.draft_reply || "");
    draft.classList.toggle("edited", edited);
    $("#approve").textContent = edited ? "Send my edit (a)" : "Approve (a)";
  });
  const preview = t.reply_preview;
  const claim = t.claimed_by === me
    ? `Yours until ${clock(t.claimed_until)}`
    : t.claimed_by ? `Open by ${t.claimed_by} until ${clock(t.claimed_until)}` : "";
  const view = h("div", { dataset: { id: String(t.id) } },
    h("div", { class: "meta" }, `#${t.id} · ${t.source} · ${t.customer_name || ""} <${t.customer_email || "no address"}> · ${ago(t.created_at)} · revision ${t.revision}`,
      claim ? h("span", { class: "claim", id: "claim" }, ` · ${claim}`) : null),
    h("h2", { id: "subject" }, t.subject || "(no subject)"),
    t.flag ? h("p", { class: "flag" }, t.flag) : null,
    t.sender_verified === false ? h("p", { class: "flag" }, "The sender could not be authenticated: check before trusting it.") : null,
    thread(detail.messages),
    earlier(detail.earlier),
    labels(detail.labels, taxonomy),
    passages(detail.passages),
    warnings(tri.warnings),
    tri.suggestion ? h("section", { id: "suggestion" }, h("h3", {}, "An approved reply to a similar ticket"),
      h("p", { class: "meta", id: "suggestion-source" }, suggestionSource(tri.suggestion)),
      h("pre", {}, tri.suggestion.reply || ""),
      h("button", { type: "button", onclick: () => { draft.value = tri.suggestion.reply || ""; draft.dispatchEvent(new Event("input")); } }, "Use this reply")) : null,
    h("section", { id: "reply" }, h("h3", {}, "Reply"),
      t.delivery ? h("p", { class: "meta", id: "last-delivery" }, lastDelivery(t.delivery)) : null,
      preview ? h("p", { class: "meta" }, `Sends by ${preview.channel} to ${preview.recipient || "the integration"}: “${preview.subject}”`) : null,
      draft,
      h("div", { class: "row" },
        h("button", { type: "button", class: "approve", id: "approve", onclick: handlers.approve }, "Approve (a)"),
        h("button", { type: "button", id: "edit", onclick: () => draft.focus() }, "Edit (e)"),
        h("button", { type: "button", class: "reject", id: "reject", onclick: handlers.reject }, "Reject… (r)"),
        h("button", { type: "button", id: "select", onclick: handlers.select }, "Select for bulk (x)"))),
    h("section", { id: "prompt" }, h("button", { type: "button", id: "prompt-toggle", onclick: () => handlers.prompt() }, "Show the prompt the model saw (p)")));
  $("#ticket").replaceChildren(view);
}

export function corrections() {
  const out = {};
  for (const s of document.querySelectorAll("#labels select[data-field]")) {
    if (s.value) out[`corrected_${s.dataset.field}`] = s.value;
  }
  return out;
}
