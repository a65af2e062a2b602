// A product's page: its details, the edit form (PUT /products/{id}), its images with upload and
// delete, and similar products. Write controls show only with a key that may write.
"use strict";

let shown = null; // the product on the page, as the server last sent it

async function renderProduct(id) {
  shown = null;
  view.replaceChildren($("#tpl-product").content.cloneNode(true));
  $("#edit-form").addEventListener("submit", (e) => saveProduct(e, id));
  $("#cancel-edit").addEventListener("click", () => { fillEditForm(shown); setStatus($("#edit-status"), ""); $("#edit-box").open = false; });
  $("#add-attribute").addEventListener("click", () => {
    const row = attributeRow("", "");
    $("#edit-attributes").append(row);
    row.querySelector("input").focus();
  });
  $("#upload-form").addEventListener("submit", (e) => uploadPhotos(e, id));
  try {
    showProduct(await api(`/products/${encodeURIComponent(id)}`));
    const similar = await api(`/products/${encodeURIComponent(id)}/similar?k=8`);
    $("#p-similar").replaceChildren(...similar.results.map((hit) =>
      productCard(hit, el("div", { class: "score" }, `similarity ${hit.score.toFixed(3)}`))));
    showBoughtWith(id);
  } catch (err) {
    if (err.status === 404 && !shown) { showMissing(id); return; }
    $("#p-title").textContent = err.message; $("#p-title").classList.add("error");
  }
}

// A link to a product that is not in the catalogue (deleted, renamed, mistyped): say so, and where to go.
function showMissing(id) {
  view.replaceChildren(el("section", { class: "product missing" },
    el("p", {}, el("a", { href: "#/" }, "← search"), " · ", el("a", { href: "#/catalog" }, "catalogue")),
    el("h1", { id: "p-missing" }, "No such product"),
    el("p", { role: "alert" }, "There is no product with the id ", el("strong", {}, id),
      " in this catalogue: it may have been deleted or renamed, or the link is mistyped."),
    el("p", { class: "muted" }, "Find it by photo or words on the search page, or browse the catalogue.")));
}

function showProduct(p) {
  shown = p;
  $("#p-title").textContent = p.title;
  $("#p-id").textContent = p.id;
  $("#p-category").textContent = p.category || "no category";
  $("#p-description").textContent = p.description || "";
  $("#p-attributes").replaceChildren(...Object.entries(p.attributes).map(([k, v]) =>
    el("tr", {}, el("td", { class: "muted" }, k), el("td", {}, String(v)))));
  $("#p-images").replaceChildren(...p.images.map((im) => el("div", { class: "card", "data-image-id": im.id },
    el("img", { src: im.thumb_url, alt: `image ${im.id}`, loading: "lazy" }),
    el("button", { type: "button", class: "danger delete write", onclick: () => deleteImage(im.id, p.id) }, "Delete"))));
  fillEditForm(p);
}

// --- editing ---------------------------------------------------------------------------------

function fillEditForm(p) {
  $("#edit-title").value = p.title;
  $("#edit-category").value = p.category || "";
  $("#edit-description").value = p.description || "";
  $("#edit-attributes").replaceChildren(...Object.entries(p.attributes).map(([k, v]) => attributeRow(k, v)));
}

function attributeRow(key, value) {
  const row = el("div", { class: "attribute-row" },
    el("input", { class: "attr-key", "aria-label": "attribute name", placeholder: "name", maxlength: "200" }),
    el("input", { class: "attr-value", "aria-label": "attribute value", placeholder: "value" }),
    el("button", { type: "button", class: "secondary remove", title: "Remove this attribute",
      onclick: () => row.remove() }, "✕"));
  row.querySelector(".attr-key").value = key;
  row.querySelector(".attr-value").value = value === null || value === undefined ? "" : String(value);
  return row;
}

// An edited value keeps the type it had (number, true/false) while it still reads as one; new
// values are text, as the CSV and JSONL feeds give them.
function typedValue(text, before) {
  const t = text.trim();
  if (typeof before === "number" && t !== "" && Number.isFinite(Number(t))) return Number(t);
  if (typeof before === "boolean" && /^(true|false)$/i.test(t)) return t.toLowerCase() === "true";
  return text;
}

// The PUT body: changed fields, and attributes no longer in the form set to null (removed).
function editedProduct() {
  const attributes = {};
  for (const row of document.querySelectorAll("#edit-attributes .attribute-row")) {
    const key = row.querySelector(".attr-key").value.trim();
    const text = row.querySelector(".attr-value").value;
    if (!key && !text.trim()) continue;
    if (!key) throw new Error(`The value "${text.trim()}" needs an attribute name.`);
    if (key in attributes) throw new Error(`The attribute "${key}" is in the form twice.`);
    attributes[key] = typedValue(text, shown.attributes[key]);
  }
  for (const key of Object.keys(shown.attributes)) if (!(key in attributes)) attributes[key] = null;
  return {
    title: $("#edit-title").value.trim(),
    category: $("#edit-category").value.trim() || null,
    description: $("#edit-description").value.trim() || null,
    attributes,
  };
}

async function saveProduct(e, id) {
  e.preventDefault();
  const status = $("#edit-status");
  let body;
  try { body = editedProduct(); } catch (err) { setStatus(status, err.message, "error"); return; }
  setStatus(status, "Saving…");
  try {
    showProduct(await sendJson(`/products/${encodeURIComponent(id)}`, "PUT", body));
    setStatus(status, "Saved.", "ok");
  } catch (err) { setStatus(status, err.message, "error"); }
}

// --- images ----------------------------------------------------------------------------------

async function uploadPhotos(e, id) {
  e.preventDefault();
  const status = $("#images-status");
  const files = [...$("#upload-photos").files];
  if (!files.length) { setStatus(status, "Choose one or more photos first.", "error"); return; }
  try {
    const { added, duplicates } = await addPhotos(id, files, (message) => setStatus(status, message));
    $("#upload-form").reset();
    showProduct(await api(`/products/${encodeURIComponent(id)}`));
    setStatus(status, `Added ${plural(added, "photo")}${duplicates ? `; ${duplicates} already there` : ""}.`, "ok");
  } catch (err) { setStatus(status, err.message, "error"); }
}

async function deleteImage(imageId, productId) {
  if (!confirm(`Delete image ${imageId}?`)) return;
  const status = $("#images-status");
  try {
    await api(`/images/${imageId}`, { method: "DELETE" });
    showProduct(await api(`/products/${encodeURIComponent(productId)}`));
    setStatus(status, `Image ${imageId} deleted.`, "ok");
  } catch (err) { setStatus(status, err.message, "error"); }
}
