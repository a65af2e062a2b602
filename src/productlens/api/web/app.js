// productlens web page: plain JS, no build step, no network beyond this server.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const view = $("#view");
const state = { file: null, box: null, where: "", facet: null, catalogOffset: 0 };

function apiKey() { return localStorage.getItem("productlens-api-key") || ""; }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("X-API-Key", apiKey());
  const response = await fetch(path, { ...options, headers });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
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

function toast(message) {
  const t = $("#toast");
  t.textContent = message; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
}

function productCard(p, extra) {
  const card = el("a", { class: "card", href: `#/product/${encodeURIComponent(p.id)}`, "data-product-id": p.id },
    el("img", { src: p.thumb_url || "data:,", alt: p.title, loading: "lazy" }),
    el("div", { class: "body" }, el("div", { class: "title" }, p.title), extra || el("div", { class: "muted" }, p.category || "")));
  return card;
}

// --- search ----------------------------------------------------------------------------------

function renderSearch() {
  view.replaceChildren($("#tpl-search").content.cloneNode(true));
  const drop = $("#drop");
  for (const input of [$("#file"), $("#camera")]) input.addEventListener("change", () => input.files[0] && useFile(input.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/")) || e.dataTransfer.files[0];
    if (file) useFile(file);
  });
  $("#search-btn").addEventListener("click", runSearch);
  for (const id of ["#where", "#text"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") { state.facet = null; runSearch(); } });
  $("#k").addEventListener("change", runSearch);
  $("#clear-box").addEventListener("click", () => { setBox(null); runSearch(); });
  setupBoxDrawing();
  if (state.file) useFile(state.file);
}

function useFile(file) {
  state.file = file; state.box = null; state.facet = null;
  const preview = $("#preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  $("#query").hidden = false;
  setBox(null);
  runSearch();
}

function setBox(box) {
  state.box = box;
  const boxel = $("#boxel");
  $("#clear-box").hidden = !box;
  if (!box) { boxel.hidden = true; $("#box-text").textContent = ""; return; }
  const [x0, y0, x1, y1] = box;
  Object.assign(boxel.style, { left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` });
  boxel.hidden = false;
  $("#box-text").textContent = `Box: ${box.map((v) => v.toFixed(2)).join(", ")}`;
}

function setupBoxDrawing() {
  const stage = $("#stage");
  let start = null;
  const frac = (e) => {
    const r = $("#preview").getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
  };
  const boxFrom = (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  stage.addEventListener("pointerdown", (e) => { start = frac(e); stage.setPointerCapture(e.pointerId); e.preventDefault(); });
  stage.addEventListener("pointermove", (e) => { if (start) setBox(boxFrom(start, frac(e))); });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const box = boxFrom(start, frac(e)); start = null;
    if (box[2] - box[0] < 0.03 || box[3] - box[1] < 0.03) { setBox(null); return; }
    setBox(box); runSearch();
  });
}

async function runSearch() {
  const text = $("#text").value.trim();
  if (!state.file && !text) return;
  const status = $("#search-status");
  const form = (k) => {
    const data = new FormData();
    if (state.file) data.append("image", state.file);
    data.append("k", k);
    if (state.box) data.append("box", state.box.map((v) => v.toFixed(4)).join(","));
    return data;
  };
  const where = [$("#where").value.trim(), state.facet].filter(Boolean).map((w) => `(${w})`).join(" and ");
  const data = form($("#k").value);
  if (where) data.append("where", where);
  if (text) data.append("text", text);
  status.textContent = "Searching…"; status.classList.remove("error");
  try {
    const [found, recognised] = await Promise.all([
      api("/search", { method: "POST", body: data }),
      state.file ? api("/recognize", { method: "POST", body: form(5) }) : null,
    ]);
    status.textContent = `${found.results.length} products in ${found.took_ms} ms`;
    if (recognised) showRecognition(recognised); else $("#recognition").textContent = "";
    showFacets(found.facets);
    $("#results").replaceChildren(...found.results.map((hit) =>
      productCard(hit, el("div", { class: "score" }, `#${hit.rank} · score ${hit.score.toFixed(3)}`))));
  } catch (err) {
    status.textContent = err.message; status.classList.add("error");
    $("#results").replaceChildren();
  }
}

function showRecognition(r) {
  const line = $("#recognition");
  if (r.known) line.replaceChildren("This looks like ", el("strong", {}, r.product.title), ` (confidence ${r.confidence.toFixed(2)})`);
  else line.replaceChildren(`Not in the catalogue${r.category ? `; closest category: ${r.category}` : ""}`);
}

function showFacets(facets) {
  const box = $("#facets");
  const chips = [];
  for (const [field, counts] of Object.entries(facets || {})) {
    for (const [value, n] of Object.entries(counts)) {
      const clause = field === "category" ? `category = '${value.replace(/'/g, "''")}'` : `${field} = '${value.replace(/'/g, "''")}'`;
      chips.push(el("button", { type: "button", class: state.facet === clause ? "on" : "", "data-facet": value,
        onclick: () => { state.facet = state.facet === clause ? null : clause; runSearch(); } }, `${value} (${n})`));
    }
  }
  if (state.facet && !chips.some((c) => c.classList.contains("on"))) {
    chips.push(el("button", { type: "button", class: "on", onclick: () => { state.facet = null; runSearch(); } }, "clear filter ✕"));
  }
  box.replaceChildren(...chips);
}

// --- product ---------------------------------------------------------------------------------

async function renderProduct(id) {
  view.replaceChildren($("#tpl-product").content.cloneNode(true));
  try {
    const p = await api(`/products/${encodeURIComponent(id)}`);
    $("#p-title").textContent = p.title;
    $("#p-id").textContent = p.id;
    $("#p-category").textContent = p.category || "no category";
    $("#p-description").textContent = p.description || "";
    $("#p-attributes").replaceChildren(...Object.entries(p.attributes).map(([k, v]) => el("tr", {}, el("td", { class: "muted" }, k), el("td", {}, String(v)))));
    $("#p-images").replaceChildren(...p.images.map((im) => el("div", { class: "card" },
      el("img", { src: im.thumb_url, alt: `image ${im.id}`, loading: "lazy" }),
      el("button", { type: "button", class: "danger", onclick: () => deleteImage(im.id, id) }, "Delete"))));
    const similar = await api(`/products/${encodeURIComponent(id)}/similar?k=8`);
    $("#p-similar").replaceChildren(...similar.results.map((hit) => productCard(hit, el("div", { class: "score" }, `score ${hit.score.toFixed(3)}`))));
  } catch (err) {
    $("#p-title").textContent = err.message; $("#p-title").classList.add("error");
  }
}

async function deleteImage(imageId, productId) {
  if (!confirm(`Delete image ${imageId}?`)) return;
  try { await api(`/images/${imageId}`, { method: "DELETE" }); toast("Image deleted"); renderProduct(productId); }
  catch (err) { toast(err.message); }
}

// --- catalogue -------------------------------------------------------------------------------

const PAGE = 60;

function renderCatalog() {
  view.replaceChildren($("#tpl-catalog").content.cloneNode(true));
  $("#api-key").value = apiKey();
  if (!apiKey()) $("#key-box").open = true;
  $("#save-key").addEventListener("click", () => { localStorage.setItem("productlens-api-key", $("#api-key").value.trim()); toast("Key saved in this browser"); });
  $("#add-form").addEventListener("submit", addProduct);
  $("#filter").addEventListener("keydown", (e) => { if (e.key === "Enter") loadProducts(true); });
  $("#more").addEventListener("click", () => loadProducts(false));
  loadProducts(true);
}

async function loadProducts(reset) {
  if (reset) { state.catalogOffset = 0; $("#products").replaceChildren(); }
  const where = $("#filter").value.trim();
  const query = new URLSearchParams({ limit: PAGE, offset: state.catalogOffset });
  if (where) query.set("where", where);
  try {
    const page = await api(`/products?${query}`);
    for (const p of page.products) {
      const card = productCard(p, el("div", { class: "muted" }, [p.category, `${p.image_count} photo${p.image_count === 1 ? "" : "s"}`].filter(Boolean).join(" · ")));
      if (!p.thumb_url) card.querySelector("img").remove();
      const remove = el("button", { type: "button", class: "danger delete", "data-id": p.id, onclick: (e) => { e.preventDefault(); deleteProduct(p.id, card); } }, "Delete");
      card.append(remove);
      $("#products").append(card);
    }
    state.catalogOffset += page.products.length;
    $("#count").textContent = `${page.total} products`;
    $("#more").hidden = state.catalogOffset >= page.total;
  } catch (err) { $("#count").textContent = err.message; $("#count").classList.add("error"); }
}

async function addProduct(e) {
  e.preventDefault();
  const status = $("#add-status");
  const id = $("#new-id").value.trim();
  status.classList.remove("error"); status.textContent = "Adding…";
  try {
    await api("/products", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id, title: $("#new-title").value.trim(), category: $("#new-category").value.trim() || null }) });
    let added = 0;
    for (const file of $("#new-photos").files) {
      const data = new FormData(); data.append("image", file);
      await api(`/products/${encodeURIComponent(id)}/images`, { method: "POST", body: data });
      added += 1;
    }
    status.textContent = `Added ${id} with ${added} photo${added === 1 ? "" : "s"}`;
    $("#add-form").reset();
    loadProducts(true);
  } catch (err) { status.textContent = err.message; status.classList.add("error"); }
}

async function deleteProduct(id, card) {
  if (!confirm(`Delete ${id} and all its photos?`)) return;
  try { await api(`/products/${encodeURIComponent(id)}`, { method: "DELETE" }); card.remove(); toast(`Deleted ${id}`); }
  catch (err) { toast(err.message); }
}

// --- routing ---------------------------------------------------------------------------------

function route() {
  const hash = location.hash || "#/";
  $("#nav-search").classList.toggle("active", hash === "#/");
  $("#nav-catalog").classList.toggle("active", hash.startsWith("#/catalog"));
  if (hash.startsWith("#/product/")) renderProduct(decodeURIComponent(hash.slice("#/product/".length)));
  else if (hash.startsWith("#/catalog")) renderCatalog();
  else renderSearch();
}

window.addEventListener("hashchange", route);
route();
