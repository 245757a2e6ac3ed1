"use strict";
// Trainer workspace and admin page. Server text is only ever set with textContent.
let csrf = "";
const $ = id => document.getElementById(id);

async function api(method, url, body) {
  const headers = { "X-CSRF-TOKEN": csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

function show(e) { $("error").textContent = e ? e.message : ""; }
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.append(td); return td; }

function addTurn(role) {
  const label = document.createElement("label");
  const span = document.createElement("span");
  span.textContent = role;
  const area = document.createElement("textarea");
  area.rows = 2;
  area.dataset.role = role;
  label.append(span, area);
  $("demo-turns").append(label);
}

async function saveDemo() {
  show();
  const messages = [];
  if ($("demo-system").value.trim()) messages.push({ role: "system", content: $("demo-system").value });
  document.querySelectorAll("#demo-turns textarea").forEach(a => { if (a.value.trim()) messages.push({ role: a.dataset.role, content: a.value }); });
  try {
    await api("POST", "/api/trainer/demonstrations", { messages });
    document.querySelectorAll("#demo-turns textarea").forEach(a => { a.value = ""; });
    await countDemos();
  } catch (e) { show(e); }
}

async function countDemos() {
  const list = await api("GET", "/api/trainer/demonstrations");
  $("demo-count").textContent = `${list.length} saved`;
}

let sampled = null;
async function sample() {
  show();
  const messages = [{ role: "user", content: $("rank-prompt").value }];
  try {
    sampled = await api("POST", "/api/trainer/rankings/sample", { messages, k: Number($("rank-k").value) });
    const list = $("rank-answers");
    list.replaceChildren();
    sampled.answers.forEach((a, i) => {
      const li = document.createElement("li");
      const rank = document.createElement("input");
      rank.type = "number"; rank.min = 1; rank.value = i + 1; rank.className = "rank";
      const text = document.createElement("span");
      text.textContent = " " + a;
      li.append(rank, text);
      list.append(li);
    });
    $("rank-save").hidden = false;
  } catch (e) { show(e); }
}

async function saveRanking() {
  show();
  const ranks = [...document.querySelectorAll("#rank-answers .rank")].map((r, i) => ({ rank: Number(r.value), answer: sampled.answers[i] }));
  const answers = [...new Set(ranks.sort((a, b) => a.rank - b.rank).map(r => r.answer))];
  try {
    await api("POST", "/api/trainer/rankings", { messages: sampled.messages, answers });
    $("rank-answers").replaceChildren();
    $("rank-save").hidden = true;
  } catch (e) { show(e); }
}

async function loadAdmin() {
  $("models").textContent = JSON.stringify(await api("GET", "/api/admin/models"), null, 2);
  const stats = $("stats");
  stats.replaceChildren();
  const head = stats.insertRow(); ["model version", "👍", "👎", "👍 share"].forEach(h => cell(head, h));
  for (const s of await api("GET", "/api/admin/feedback/stats")) {
    const row = stats.insertRow();
    [s.model_version, s.up, s.down, (100 * s.up_share).toFixed(1) + " %"].forEach(v => cell(row, String(v)));
  }
  const users = $("users");
  users.replaceChildren();
  for (const u of await api("GET", "/api/admin/users")) {
    const row = users.insertRow();
    cell(row, u.username);
    const select = document.createElement("select");
    ["user", "trainer", "admin"].forEach(r => { const o = document.createElement("option"); o.value = o.textContent = r; o.selected = r === u.role; select.append(o); });
    select.addEventListener("change", () => api("PATCH", `/api/admin/users/${u.id}`, { role: select.value }).catch(show));
    cell(row, "").append(select);
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = u.disabled; box.title = "disabled";
    box.addEventListener("change", () => api("PATCH", `/api/admin/users/${u.id}`, { disabled: box.checked }).catch(show));
    cell(row, "disabled ").append(box);
  }
}

async function loadModel() {
  show();
  try { await api("POST", "/api/admin/models/load", { dir: $("model-dir").value || undefined }); await loadAdmin(); } catch (e) { show(e); }
}

document.addEventListener("DOMContentLoaded", async () => {
  csrf = (await (await fetch("/api/auth/csrf")).json()).token;
  const me = await api("GET", "/api/auth/me");
  if (!me.user) { location.href = "/"; return; }
  $("who").textContent = `${me.user.username} (${me.user.role})`;
  const trainer = me.user.role === "trainer" || me.user.role === "admin";
  document.querySelectorAll("[data-role=trainer]").forEach(s => { s.hidden = !trainer; });
  document.querySelectorAll("[data-role=admin]").forEach(s => { s.hidden = me.user.role !== "admin"; });
  addTurn("user"); addTurn("assistant");
  $("demo-add").addEventListener("click", () => addTurn(document.querySelectorAll("#demo-turns textarea").length % 2 ? "assistant" : "user"));
  $("demo-save").addEventListener("click", saveDemo);
  $("rank-sample").addEventListener("click", sample);
  $("rank-save").addEventListener("click", saveRanking);
  $("model-load").addEventListener("click", loadModel);
  try {
    if (trainer) await countDemos();
    if (me.user.role === "admin") await loadAdmin();
  } catch (e) { show(e); }
});
