// productlens web page, shared parts: the API client, an element builder, and the API key with what
// it allows. Plain JS, no build step, nothing fetched from other hosts.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const view = $("#view");
const KEY_STORE = "productlens-api-key";
// What the saved key may do, from GET /access; write controls (class "write") show only with canWrite.
const access = { writesEnabled: false, canRead: true, canWrite: false };

function apiKey() { return localStorage.getItem(KEY_STORE) || ""; }

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, options = {}, key = apiKey()) {
  const headers = new Headers(options.headers || {});
  if (key) headers.set("X-API-Key", key);
  const response = await fetch(path, { ...options, headers });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(body && body.error ? body.error.message : `HTTP ${response.status}`, response.status);
  return body;
}

function sendJson(path, method, body) {
  return api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const num = (x) => Number(x).toFixed(2);

// A status line under a form: kind "" (progress), "ok" or "error".
function setStatus(node, text, kind = "") {
  node.textContent = text;
  node.classList.toggle("error", kind === "error");
  node.classList.toggle("ok", kind === "ok");
  if (kind === "error") node.setAttribute("role", "alert"); else node.setAttribute("role", "status");
}

function toast(message) {
  const t = $("#toast");
  t.textContent = message; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
}

// Adds photos to a product one by one; returns how many were new and how many it had already.
async function addPhotos(productId, files, progress = () => {}) {
  const counts = { added: 0, duplicates: 0 };
  for (const file of files) {
    progress(`Uploading ${file.name}…`);
    const data = new FormData(); data.append("image", file);
    const result = await api(`/products/${encodeURIComponent(productId)}/images`, { method: "POST", body: data });
    counts[result.duplicate ? "duplicates" : "added"] += 1;
  }
  return counts;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// What a shopper compares at a glance: category, brand and price, those the product has.
function productFacts(p) {
  const a = p.attributes || {};
  const given = (v) => v !== undefined && v !== null && v !== "";
  const price = given(a.price) ? `${typeof a.price === "number" ? a.price.toFixed(2) : a.price}${given(a.currency) ? ` ${a.currency}` : ""}` : null;
  const facts = [["category", p.category], ["brand", a.brand], ["price", price]].filter(([, v]) => given(v));
  return el("div", { class: "facts muted" }, ...facts.map(([field, v]) => el("span", { class: field }, String(v))));
}

function productCard(p, extra) {
  return el("a", { class: "card", href: `#/product/${encodeURIComponent(p.id)}`, "data-product-id": p.id },
    el("img", { src: p.thumb_url || "data:,", alt: p.title, loading: "lazy" }),
    el("div", { class: "body" }, el("div", { class: "title" }, p.title), productFacts(p), ...(extra ? [extra] : [])));
}

// --- the API key -----------------------------------------------------------------------------

function applyAccess(a) {
  Object.assign(access, { writesEnabled: a.writes_enabled, canRead: a.can_read, canWrite: a.can_write });
  document.body.classList.toggle("can-write", a.can_write);
  const toggle = $("#key-toggle");
  toggle.hidden = !a.writes_enabled && a.can_read; // an open, read-only server: nothing to unlock
  toggle.textContent = a.can_write ? "Editing" : "Edit";
  toggle.classList.toggle("on", a.can_write);
  $("#forget-key").hidden = !apiKey();
  showAccessNotes();
}

// The catalogue page's notes on why its write controls are missing.
function showAccessNotes() {
  const readOnly = $("#read-only-note"), locked = $("#locked-note");
  if (readOnly) readOnly.hidden = access.writesEnabled;
  if (locked) locked.hidden = !access.writesEnabled || access.canWrite;
}

function openKeyPanel(open) {
  $("#key-panel").hidden = !open;
  $("#key-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("#api-key").focus();
}

async function refreshAccess() {
  const a = await api("/access", {}, apiKey());
  applyAccess(a);
  if (!a.can_read) {
    openKeyPanel(true);
    setStatus($("#key-status"), "This server needs a key to show the catalogue.", "error");
  } else if (apiKey() && !a.can_write && a.writes_enabled) {
    setStatus($("#key-status"), "The saved key is not accepted for changes any more.", "error");
  }
}

async function saveKey(e) {
  e.preventDefault();
  const status = $("#key-status");
  const candidate = $("#api-key").value.trim();
  setStatus(status, "Checking the key…");
  try {
    const a = await api("/access", {}, candidate);
    if (!a.can_write && !(a.can_read && !access.canRead)) {
      setStatus(status, a.writes_enabled ? "The server did not accept this key." :
        "This server is read-only (started without an API key): nothing can be changed here.", "error");
      return;
    }
    localStorage.setItem(KEY_STORE, candidate);
    $("#api-key").value = "";
    applyAccess(a);
    setStatus(status, "");
    openKeyPanel(false);
    toast(a.can_write ? "Key saved in this browser: adding, editing and deleting are on" :
      "Key saved: it opens the catalogue for reading, not for changes");
    route();
  } catch (err) { setStatus(status, err.message, "error"); }
}

async function forgetKey() {
  localStorage.removeItem(KEY_STORE);
  try { applyAccess(await api("/access", {}, "")); } catch (err) { setStatus($("#key-status"), err.message, "error"); return; }
  setStatus($("#key-status"), "Key forgotten: changes are off.", "ok");
  route();
}

function setupKeyPanel() {
  $("#key-toggle").addEventListener("click", () => openKeyPanel($("#key-panel").hidden));
  $("#key-form").addEventListener("submit", saveKey);
  $("#forget-key").addEventListener("click", forgetKey);
}
