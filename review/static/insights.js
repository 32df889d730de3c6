"use strict";
const $ = (s) => document.querySelector(s);
const pct = (x) => `${Math.round(100 * x)}%`;
function table(title, cols, rows) {
  const h = document.createElement("h2"); h.textContent = title; $("#out").append(h);
  const t = document.createElement("table");
  const head = t.insertRow(); cols.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.append(th); });
  rows.forEach((r) => { const tr = t.insertRow(); r.forEach((v) => { const td = tr.insertCell(); if (v instanceof Node) td.append(v); else td.textContent = v; }); });
  if (!rows.length) { const tr = t.insertRow(); const td = tr.insertCell(); td.colSpan = cols.length; td.textContent = "nothing in this window"; }
  $("#out").append(t);
}
function bar(n, max) { const s = document.createElement("span"); s.className = "bar"; s.style.width = `${Math.max(2, 160 * n / (max || 1))}px`; s.title = n; const w = document.createElement("span"); w.append(s, ` ${n}`); return w; }
async function load() {
  $("#out").textContent = "";
  const by = $("#by").value;
  const r = await fetch(`/insights?days=${encodeURIComponent($("#days").value)}&by=${by}`);
  if (r.status === 401) { location.assign("/login?next=/ui/insights"); return; }
  if (!r.ok) { $("#summary").innerHTML = ""; $("#summary").className = "error"; $("#summary").textContent = `${r.status}: ${(await r.json()).detail}`; return; }
  const d = await r.json();
  $("#summary").className = "meta";
  $("#summary").textContent = `${d.tickets} ticket(s) triaged, ${d.since.slice(0, 10)} to ${d.until.slice(0, 10)}`;
  for (const [title, rows] of [["Intents", d.intents], ["Sentiment", d.sentiment]]) {
    const max = Math.max(0, ...rows.map((x) => x.tickets));
    table(`${title} per ${by}`, [by, "label", "tickets"], rows.map((x) => [x.period, x.label, bar(x.tickets, max)]));
  }
  table("Drafts per category and language", ["category", "language", "reviewed", "approved", "edited", "rejected", "accepted as is", "mean edit distance"],
    d.drafts.map((x) => [x.category, x.language, x.reviewed, x.approved, x.edited, x.rejected, pct(x.acceptance_rate), x.mean_edit_distance === null ? "-" : x.mean_edit_distance.toFixed(2)]));
  table("Label corrections per predicted category (weakest first)", ["category", "reviewed", "corrected", "rate", "corrected to", "other labels corrected"],
    d.corrections.map((x) => [x.category, x.reviewed, x.category_corrected, pct(x.correction_rate), Object.entries(x.corrected_to).map(([c, n]) => `${c} (${n})`).join(", ") || "-", x.other_labels_corrected]));
  table("No relevant help article: write these next", ["category", "tickets", "without article", "share", "topic words", "e.g. tickets"],
    d.knowledge_gaps.map((x) => [x.category, x.tickets, x.without_article, pct(x.share), x.topic_words.join(", ") || "-", x.example_ticket_ids.join(", ")]));
}
$("#reload").onclick = load;
load();
