// The search page: a photo (with an optional crop box) and/or words in; recognition's verdict,
// facets grouped by field, and the ranked results out.
"use strict";

const state = { file: null, box: null, facet: null, page: 1 };
const FACET_LABELS = { category: "Category", brand: "Brand" };
const MAX_RESULTS = 100; // the most POST /search returns: pages reach this far
const DEFAULT_K = "10";

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
  $("#search-btn").addEventListener("click", newSearch);
  for (const id of ["#where", "#text"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") { state.facet = null; newSearch(); } });
  $("#k").addEventListener("change", newSearch);
  $("#objects").addEventListener("change", newSearch);
  $("#clear-box").addEventListener("click", () => { setBox(null); newSearch(); });
  $("#prev-page").addEventListener("click", () => { state.page -= 1; runSearch(); });
  $("#next-page").addEventListener("click", () => { state.page += 1; runSearch(); });
  setupBoxDrawing();
  const linkedPhoto = readUrl();
  if (state.file) { showPhoto(state.file); runSearch(); return; }
  $("#photo-note").hidden = !linkedPhoto;
  if ($("#text").value.trim()) runSearch();
}

// --- the search in the URL (#/?text=…&where=…&k=…&mode=objects&facet=…&page=…), to bookmark and share --

// Fills the form and state from the URL; returns whether the linked search was by photo (which a URL cannot carry).
function readUrl() {
  const hash = location.hash;
  const params = new URLSearchParams(hash.startsWith("#/?") ? hash.slice(3) : "");
  $("#text").value = params.get("text") || "";
  $("#where").value = params.get("where") || "";
  const k = params.get("k");
  if (k && [...$("#k").options].some((o) => o.value === k)) $("#k").value = k;
  $("#objects").checked = params.get("mode") === "objects";
  if (params.has("text") || params.has("where") || params.has("photo")) {
    state.facet = params.get("facet");
    state.page = Math.max(1, parseInt(params.get("page"), 10) || 1);
  }
  return params.get("photo") === "1" && !state.file;
}

// The current search into the address bar, replacing it (no new history entry, no re-render).
function writeUrl() {
  const params = new URLSearchParams();
  const text = $("#text").value.trim(), where = $("#where").value.trim();
  if (text) params.set("text", text);
  if (where) params.set("where", where);
  if ($("#k").value !== DEFAULT_K) params.set("k", $("#k").value);
  if ($("#objects").checked) params.set("mode", "objects");
  if (state.facet) params.set("facet", state.facet);
  if (state.page > 1) params.set("page", String(state.page));
  if (state.file) params.set("photo", "1");
  const query = params.toString();
  history.replaceState(null, "", query ? `#/?${query}` : "#/");
}

function useFile(file) {
  state.file = file; state.box = null; state.facet = null; state.page = 1;
  showPhoto(file);
  runSearch();
}

function showPhoto(file) {
  const preview = $("#preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  $("#query").hidden = false;
  $("#photo-note").hidden = true;
  setBox(state.box);
}

// A changed query starts again from its first page.
function newSearch() {
  state.page = 1;
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
  stage.addEventListener("pointerdown", (e) => { if (e.target.closest(".det")) return; start = frac(e); stage.setPointerCapture(e.pointerId); e.preventDefault(); });
  stage.addEventListener("pointermove", (e) => { if (start) setBox(boxFrom(start, frac(e))); });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const box = boxFrom(start, frac(e)); start = null;
    if (box[2] - box[0] < 0.03 || box[3] - box[1] < 0.03) { setBox(null); return; }
    setBox(box); newSearch();
  });
}

async function runSearch() {
  const text = $("#text").value.trim();
  if (!state.file && !text) return;
  writeUrl();
  clearObjects();
  showPager(false);
  if (state.file && $("#objects").checked) return runObjects(state.file, state.box, $("#k").value, $("#where").value.trim());
  const status = $("#search-status");
  const form = (k) => {
    const data = new FormData();
    if (state.file) data.append("image", state.file);
    data.append("k", k);
    if (state.box) data.append("box", state.box.map((v) => v.toFixed(4)).join(","));
    return data;
  };
  // The typed filter goes first and unwrapped, so an error's position is the one in the box (as in the CLI).
  const typed = $("#where").value.trim();
  const where = typed && state.facet ? `${/\bor\b/i.test(typed) ? `(${typed})` : typed} and (${state.facet})` : typed || state.facet || "";
  // A page is the k results after the earlier pages': ask for those and one more, to know a next page exists.
  const perPage = Number($("#k").value);
  const first = (state.page - 1) * perPage;
  const data = form(Math.min(MAX_RESULTS, first + perPage + 1));
  if (where) data.append("where", where);
  if (text) data.append("text", text);
  setStatus(status, "Searching…");
  try {
    const [found, recognised] = await Promise.all([
      api("/search", { method: "POST", body: data }),
      state.file ? api("/recognize", { method: "POST", body: form(5) }) : null,
    ]);
    const hits = found.results.slice(first, first + perPage);
    const more = found.results.length > first + perPage;
    setStatus(status, hits.length ? `${hits.length} products in ${found.took_ms} ms, most similar first` +
      (state.page > 1 || more ? ` (page ${state.page}: results ${first + 1}–${first + hits.length})` : "")
      : `No products on page ${state.page}: the search has ${found.results.length} results.`);
    showRecognition(recognised, found.results, { first, perPage });
    showFacets(found.facets);
    showPager(state.page > 1 || more, more);
    const recognisedId = recognised && recognised.known ? recognised.product.id : null;
    $("#results").replaceChildren(...hits.map((hit) => {
      const card = productCard(hit, el("div", { class: "score" }, `#${hit.rank} · similarity ${hit.score.toFixed(3)}`));
      if (hit.id === recognisedId) {
        card.classList.add("recognised");
        card.querySelector(".body").prepend(el("span", { class: "badge" }, "recognised"));
      }
      return card;
    }));
  } catch (err) {
    setStatus(status, err.message, "error");
    showRecognition(null, []);
    $("#results").replaceChildren();
  }
}

function showPager(visible, more = false) {
  $("#pager").hidden = !visible;
  $("#prev-page").disabled = state.page <= 1;
  $("#next-page").disabled = !more;
  $("#page-no").textContent = `Page ${state.page}`;
}

// How the verdict was reached: `confidence`, the calibrated chance that the best guess is right,
// against the confidence needed (same scale); the cosine only as "similarity", as in the list.
function verdictNumbers(r) {
  const sign = r.confidence >= r.threshold ? "≥" : "<";
  return `confidence ${num(r.confidence)} ${sign} ${num(r.threshold)} needed (similarity ${r.similarity.toFixed(3)})`;
}

// Recognition's verdict, worded so that it agrees with the ranked list below it.
// `shown`: the page of `hits` on screen, so a guess on another page is pointed at, not called left out.
function showRecognition(r, hits, shown = { first: 0, perPage: Infinity }) {
  const box = $("#recognition");
  box.hidden = !r;
  if (!r) { box.replaceChildren(); return; }
  const guess = r.product || r.candidates[0] || null;
  const rank = guess ? hits.findIndex((h) => h.id === guess.id) : -1;
  const onPage = rank >= shown.first && rank < shown.first + shown.perPage;
  const where = rank < 0 ? "not in the results below: the filter or words leave it out"
    : onPage ? `#${rank + 1} below` : `#${rank + 1}, on page ${Math.floor(rank / shown.perPage) + 1}`;
  box.classList.toggle("known", r.known);
  if (r.known) {
    box.replaceChildren(
      el("p", { class: "headline" }, "Recognised: ", el("strong", {}, r.product.title), ` (${where})`),
      el("p", { class: "numbers" }, verdictNumbers(r)));
    return;
  }
  const lines = [el("p", { class: "headline" }, "Not confidently recognised: the closest matches are below, by similarity.")];
  if (guess) lines.push(el("p", { class: "numbers" }, "Best guess ", el("strong", {}, guess.title), ` (${where}) · ${verdictNumbers(r)}`));
  if (r.category) lines.push(el("p", { class: "numbers" }, "Closest category ", el("strong", {}, r.category), ` (confidence ${num(r.category_confidence)})`));
  lines.push(el("p", { class: "numbers" }, "Similarity says how alike two photos look; confidence, how likely the best guess is the product."));
  box.replaceChildren(...lines);
}

function showFacets(facets) {
  const groups = [];
  const quote = (v) => `'${v.replace(/'/g, "''")}'`;
  for (const [field, counts] of Object.entries(facets || {})) {
    const chips = Object.entries(counts).map(([value, n]) => {
      const clause = `${field} = ${quote(value)}`;
      return el("button", { type: "button", class: state.facet === clause ? "chip on" : "chip", "data-facet": value,
        "aria-pressed": String(state.facet === clause),
        onclick: () => { state.facet = state.facet === clause ? null : clause; newSearch(); } }, `${value} (${n})`);
    });
    const label = FACET_LABELS[field] || field.charAt(0).toUpperCase() + field.slice(1);
    groups.push(el("div", { class: "facet-group", role: "group", "aria-label": label, "data-field": field },
      el("span", { class: "facet-label" }, label), ...chips));
  }
  if (state.facet && !groups.some((g) => g.querySelector(".chip.on"))) {
    groups.push(el("div", { class: "facet-group" }, el("button", { type: "button", class: "chip on",
      onclick: () => { state.facet = null; newSearch(); } }, "clear filter ✕")));
  }
  $("#facets").replaceChildren(...groups);
}
