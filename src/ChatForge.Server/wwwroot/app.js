"use strict";
// ChatForge web app: plain JS, no build step, no CDN. Every server text is inserted with textContent
// or through renderMarkdown (which escapes first), never as raw HTML.

const I18N = {
  en: {
    tagline: "Chat with your own model. Registration is free.", username: "Username", password: "Password", email: "Email (optional)",
    login: "Log in", register: "Create account", noAccount: "No account? Register", haveAccount: "Have an account? Log in",
    otherLang: "中文", newChat: "+ New chat", logout: "Log out", settings: "Chat settings", title: "Title", systemPrompt: "System prompt",
    temperature: "Temperature", save: "Save", deleteChat: "Delete chat", placeholder: "Message ChatForge… (Enter to send, Shift+Enter for a new line)",
    send: "Send", stop: "Stop", continue: "Continue", regenerate: "Regenerate", edit: "Edit", cancel: "Cancel", good: "Good answer", bad: "Bad answer",
    commentPrompt: "What was wrong or right? (optional)", submit: "Submit", truncated: "The answer reached the length limit.",
    stopped: "Stopped.", errorStatus: "Error", noModel: "No model is loaded", confirmDelete: "Delete this chat?", newChatTitle: "New chat",
    empty: "Start a conversation.", workspace: "Trainer / admin", thanks: "Thanks for the feedback", comment: "Comment",
  },
  zh: {
    tagline: "和你自己的模型聊天。免费注册。", username: "用户名", password: "密码", email: "邮箱（可选）",
    login: "登录", register: "注册", noAccount: "没有账号？注册", haveAccount: "已有账号？登录",
    otherLang: "English", newChat: "+ 新对话", logout: "退出", settings: "对话设置", title: "标题", systemPrompt: "系统提示词",
    temperature: "温度", save: "保存", deleteChat: "删除对话", placeholder: "给 ChatForge 发消息…（回车发送，Shift+回车换行）",
    send: "发送", stop: "停止", continue: "继续", regenerate: "重新生成", edit: "编辑", cancel: "取消", good: "好回答", bad: "差回答",
    commentPrompt: "哪里好或不好？（可选）", submit: "提交", truncated: "回答已达到长度上限。",
    stopped: "已停止。", errorStatus: "错误", noModel: "没有加载模型", confirmDelete: "删除这个对话？", newChatTitle: "新对话",
    empty: "开始对话吧。", workspace: "训练 / 管理", thanks: "感谢反馈", comment: "评论",
  },
};

const state = { lang: null, csrf: null, me: null, chats: [], chat: null, messages: [], streaming: null, registering: false };
const $ = id => document.getElementById(id);

function t(key) { return (I18N[state.lang] || I18N.en)[key] || key; }

function chooseLang() {
  const saved = localStorage.getItem("lang");
  if (saved && I18N[saved]) return saved;
  return (navigator.languages || [navigator.language || "en"]).some(l => /^zh/i.test(l)) ? "zh" : "en";
}

function applyLang() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach(el => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach(el => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-title]").forEach(el => { el.title = t(el.dataset.i18nTitle); });
  $("auth-submit").textContent = t(state.registering ? "register" : "login");
  $("auth-toggle").textContent = t(state.registering ? "haveAccount" : "noAccount");
  if (state.me) { renderChatList(); renderMessages(); }
}

// ---- HTTP ----

async function refreshCsrf() {
  const r = await fetch("/api/auth/csrf", { credentials: "same-origin" });
  state.csrf = (await r.json()).token;
}

async function api(method, url, body) {
  const headers = { "X-CSRF-TOKEN": state.csrf || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

// POST that answers with SSE: calls onEvent(type, data) for each event.
async function stream(url, body, onEvent, signal) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin", signal,
    headers: { "Content-Type": "application/json", "X-CSRF-TOKEN": state.csrf || "", "Accept": "text/event-stream" },
    body: JSON.stringify(body || {}),
  });
  if (!r.ok) {
    const data = await r.json().catch(() => null);
    throw new Error((data && data.error && data.error.message) || `HTTP ${r.status}`);
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(type, JSON.parse(data));
    }
  }
}

// ---- auth ----

async function loadMe() {
  const me = await api("GET", "/api/auth/me");
  state.me = me.user;
  const warning = $("model-warning");
  warning.hidden = !!me.model;
  warning.textContent = me.model ? "" : `${t("noModel")}: ${me.model_error || ""}`;
  return me;
}

async function submitAuth(event) {
  event.preventDefault();
  $("auth-error").textContent = "";
  const body = { username: $("username").value.trim(), password: $("password").value };
  if (state.registering) body.email = $("email").value.trim() || null;
  try {
    await refreshCsrf();
    await api("POST", state.registering ? "/api/auth/register" : "/api/auth/login", body);
    await refreshCsrf();
    await start();
  } catch (e) {
    $("auth-error").textContent = e.message;
  }
}

function toggleRegister() {
  state.registering = !state.registering;
  $("email-row").hidden = !state.registering;
  $("password").autocomplete = state.registering ? "new-password" : "current-password";
  applyLang();
}

async function logout() {
  await api("POST", "/api/auth/logout");
  location.reload();
}

// ---- chats ----

async function loadChats() {
  state.chats = await api("GET", "/api/chats");
  renderChatList();
}

function renderChatList() {
  const nav = $("chat-list");
  nav.replaceChildren();
  for (const chat of state.chats) {
    const a = document.createElement("a");
    a.href = "#" + chat.id;
    a.textContent = chat.title === "New chat" ? t("newChatTitle") : chat.title;
    a.className = state.chat && state.chat.id === chat.id ? "active" : "";
    nav.append(a);
  }
  $("me").textContent = state.me ? `${state.me.username} (${state.me.role})` : "";
  $("admin-link").hidden = !state.me || state.me.role === "user";
}

async function openChat(id) {
  if (!id) { state.chat = null; state.messages = []; renderMessages(); renderChatList(); return; }
  try {
    const data = await api("GET", `/api/chats/${encodeURIComponent(id)}`);
    state.chat = data.chat;
    state.messages = data.messages;
  } catch (e) {
    state.chat = null; state.messages = [];
    location.hash = "";
  }
  $("settings").hidden = true;
  document.body.classList.remove("menu-open");
  renderChatList();
  renderMessages();
}

async function newChat() {
  const chat = await api("POST", "/api/chats", {});
  state.chats.unshift(chat);
  location.hash = chat.id;
  $("input").focus();
}

async function ensureChat() {
  if (state.chat) return state.chat.id;
  const chat = await api("POST", "/api/chats", {});
  state.chat = chat;
  state.chats.unshift(chat);
  history.replaceState(null, "", "#" + chat.id);
  return chat.id;
}

// ---- messages ----

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label, cls, onClick, title) {
  const b = el("button", cls, label);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function renderMessages() {
  const box = $("messages");
  box.replaceChildren();
  $("chat-title").textContent = state.chat ? (state.chat.title === "New chat" ? t("newChatTitle") : state.chat.title) : "ChatForge";
  if (state.messages.length === 0) box.append(el("p", "empty muted", t("empty")));
  const busy = !!state.streaming;
  state.messages.forEach((m, index) => {
    const wrap = el("div", `msg ${m.role}`);
    wrap.dataset.id = m.id;
    const body = el("div", "body");
    if (m.role === "assistant") body.innerHTML = window.renderMarkdown(m.content || "");
    else body.textContent = m.content;
    wrap.append(body);
    const tools = el("div", "tools");
    if (m.siblings && m.siblings.length > 1) {
      const i = m.sibling_index;
      const prev = button("‹", "icon small", () => select(m.siblings[i - 1]));
      const next = button("›", "icon small", () => select(m.siblings[i + 1]));
      prev.disabled = busy || i === 0;
      next.disabled = busy || i === m.siblings.length - 1;
      tools.append(prev, el("span", "muted small", `${i + 1}/${m.siblings.length}`), next);
    }
    if (m.role === "user" && !busy) tools.append(button("✎", "icon small edit", () => editMessage(wrap, m), t("edit")));
    if (m.role === "assistant") {
      if (m.status === "truncated" || m.status === "stopped") {
        tools.prepend(el("span", "muted small", t(m.status === "truncated" ? "truncated" : "stopped")));
        if (!busy && index === state.messages.length - 1) tools.append(button(t("continue"), "continue", () => continueAnswer(m.id)));
      }
      if (m.status === "error") tools.prepend(el("span", "error small", t("errorStatus")));
      if (m.status !== "generating") {
        const rating = m.feedback ? m.feedback.rating : 0;
        tools.append(button("👍", "icon small vote-up" + (rating === 1 ? " on" : ""), () => vote(wrap, m, 1), t("good")));
        tools.append(button("👎", "icon small vote-down" + (rating === -1 ? " on" : ""), () => vote(wrap, m, -1), t("bad")));
        if (!busy) tools.append(button("↻", "icon small regenerate", () => regenerate(m.id), t("regenerate")));
        if (m.feedback && m.feedback.comment) tools.append(el("span", "comment small", `${t("comment")}: ${m.feedback.comment}`));
      }
    }
    wrap.append(tools);
    box.append(wrap);
  });
  $("send").hidden = busy;
  $("stop").hidden = !busy;
  box.scrollTop = box.scrollHeight;
}

async function runStream(url, body) {
  const controller = new AbortController();
  state.streaming = controller;
  let answer = null;
  renderMessages();
  try {
    await stream(url, body, (type, data) => {
      if (type === "start") {
        if (data.user_message) state.messages.push(data.user_message);
        answer = state.messages.find(m => m.id === data.assistant_message.id);
        if (!answer) { answer = data.assistant_message; state.messages.push(answer); }
        answer.status = "generating";
        renderMessages();
      } else if (type === "delta" && answer) {
        answer.content += data.text;
        const node = document.querySelector(`.msg[data-id="${answer.id}"] .body`);
        if (node) node.innerHTML = window.renderMarkdown(answer.content);
        $("messages").scrollTop = $("messages").scrollHeight;
      } else if ((type === "done" || type === "error") && answer) {
        answer.content = data.content;
        answer.status = data.status;
        if (data.error) alert(data.error);
      }
    }, controller.signal);
  } catch (e) {
    if (e.name !== "AbortError") alert(e.message);
  } finally {
    state.streaming = null;
  }
  await openChat(state.chat.id);
  await loadChats();
}

async function send(event) {
  event.preventDefault();
  const text = $("input").value;
  if (!text.trim() || state.streaming) return;
  $("input").value = "";
  const id = await ensureChat();
  await runStream(`/api/chats/${id}/messages`, { content: text });
}

function continueAnswer(id) { return runStream(`/api/chats/${state.chat.id}/messages/${id}/continue`); }
function regenerate(id) { return runStream(`/api/chats/${state.chat.id}/messages/${id}/regenerate`); }

async function stop() {
  if (!state.streaming) return;
  await api("POST", `/api/chats/${state.chat.id}/stop`).catch(() => {});
}

async function select(id) {
  if (!id || state.streaming) return;
  await api("POST", `/api/chats/${state.chat.id}/select`, { message_id: id });
  await openChat(state.chat.id);
}

function editMessage(wrap, m) {
  const box = el("div", "edit-box");
  const area = el("textarea");
  area.value = m.content;
  const save = button(t("send"), "primary", async () => runStream(`/api/chats/${state.chat.id}/messages/${m.id}/edit`, { content: area.value }));
  box.append(area, el("div", "row"));
  box.lastChild.append(save, button(t("cancel"), "", () => renderMessages()));
  wrap.replaceChildren(box);
  area.focus();
}

function vote(wrap, m, rating) {
  const current = m.feedback ? m.feedback.rating : 0;
  wrap.querySelector(".feedback-form")?.remove();
  const form = el("form", "feedback-form");
  const input = el("input");
  input.placeholder = t("commentPrompt");
  input.value = (m.feedback && m.feedback.rating === rating && m.feedback.comment) || "";
  form.append(input, button(t("submit"), "primary", () => form.requestSubmit()));
  form.addEventListener("submit", async e => {
    e.preventDefault();
    await api("PUT", `/api/chats/${state.chat.id}/messages/${m.id}/feedback`, { rating, comment: input.value });
    await openChat(state.chat.id);
  });
  // Clicking the active thumb again removes the vote.
  if (current === rating) {
    api("PUT", `/api/chats/${state.chat.id}/messages/${m.id}/feedback`, { rating: 0 }).then(() => openChat(state.chat.id));
    return;
  }
  api("PUT", `/api/chats/${state.chat.id}/messages/${m.id}/feedback`, { rating }).then(() => {
    m.feedback = { rating, comment: null };
    wrap.querySelector(".vote-up").classList.toggle("on", rating === 1);
    wrap.querySelector(".vote-down").classList.toggle("on", rating === -1);
    wrap.append(form);
    input.focus();
  });
}

async function saveSettings() {
  const temp = $("set-temp").value;
  state.chat = await api("PATCH", `/api/chats/${state.chat.id}`, {
    title: $("set-title").value.trim() || undefined, system_prompt: $("set-system").value, temperature: temp === "" ? undefined : Number(temp),
  });
  $("settings").hidden = true;
  await loadChats();
  renderMessages();
}

async function toggleSettings() {
  const panel = $("settings");
  if (!panel.hidden) { panel.hidden = true; return; }
  await ensureChat();
  $("set-title").value = state.chat.title;
  $("set-system").value = state.chat.system_prompt || "";
  $("set-temp").value = state.chat.temperature ?? "";
  panel.hidden = false;
}

async function deleteChat() {
  if (!state.chat || !confirm(t("confirmDelete"))) return;
  await api("DELETE", `/api/chats/${state.chat.id}`);
  state.chat = null;
  location.hash = "";
  await loadChats();
  openChat(null);
}

async function start() {
  await loadMe();
  $("auth").hidden = !!state.me;
  $("app").hidden = !state.me;
  if (!state.me) { $("username").focus(); return; }
  await loadChats();
  await openChat(location.hash.slice(1) || null);
}

document.addEventListener("DOMContentLoaded", async () => {
  state.lang = chooseLang();
  applyLang();
  $("auth-form").addEventListener("submit", submitAuth);
  $("auth-toggle").addEventListener("click", toggleRegister);
  document.querySelectorAll(".lang-toggle").forEach(b => b.addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("lang", state.lang);
    applyLang();
  }));
  $("logout").addEventListener("click", logout);
  $("new-chat").addEventListener("click", newChat);
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); } });
  $("stop").addEventListener("click", stop);
  $("menu").addEventListener("click", () => document.body.classList.toggle("menu-open"));
  $("settings-btn").addEventListener("click", toggleSettings);
  $("save-settings").addEventListener("click", saveSettings);
  $("delete-chat").addEventListener("click", deleteChat);
  window.addEventListener("hashchange", () => openChat(location.hash.slice(1) || null));
  await refreshCsrf();
  await start();
});
