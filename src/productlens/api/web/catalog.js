// The catalogue page: products page by page with a filter; add and delete with the API key.
"use strict";

const PAGE = 60;
let catalogOffset = 0;

function renderCatalog() {
  view.replaceChildren($("#tpl-catalog").content.cloneNode(true));
  showAccessNotes();
  $("#add-form").addEventListener("submit", addProduct);
  $("#recommend-form").addEventListener("submit", recommendForUser);
  $("#filter").addEventListener("keydown", (e) => { if (e.key === "Enter") loadProducts(true); });
  $("#more").addEventListener("click", () => loadProducts(false));
  loadProducts(true);
}

async function loadProducts(reset) {
  if (reset) { catalogOffset = 0; $("#products").replaceChildren(); }
  const where = $("#filter").value.trim();
  const query = new URLSearchParams({ limit: PAGE, offset: catalogOffset });
  if (where) query.set("where", where);
  try {
    const page = await api(`/products?${query}`);
    for (const p of page.products) {
      const card = productCard(p, el("div", { class: "muted" }, plural(p.image_count, "photo")));
      if (!p.thumb_url) card.querySelector("img").remove();
      card.append(el("button", { type: "button", class: "danger delete write", "data-id": p.id,
        onclick: (e) => { e.preventDefault(); deleteProduct(p.id, card); } }, "Delete"));
      $("#products").append(card);
    }
    catalogOffset += page.products.length;
    $("#count").classList.remove("error");
    $("#count").textContent = `${page.total} products`;
    $("#more").hidden = catalogOffset >= page.total;
  } catch (err) { $("#count").textContent = err.message; $("#count").classList.add("error"); }
}

async function addProduct(e) {
  e.preventDefault();
  const status = $("#add-status");
  const id = $("#new-id").value.trim();
  setStatus(status, "Adding…");
  try {
    await sendJson("/products", "POST", { id, title: $("#new-title").value.trim(), category: $("#new-category").value.trim() || null });
    const { added } = await addPhotos(id, $("#new-photos").files);
    setStatus(status, `Added ${id} with ${plural(added, "photo")}`, "ok");
    $("#add-form").reset();
    loadProducts(true);
  } catch (err) { setStatus(status, err.message, "error"); }
}

// A failed delete says why on the product's own card.
async function deleteProduct(id, card) {
  if (!confirm(`Delete ${id} and all its photos?`)) return;
  const old = card.querySelector(".card-error");
  if (old) old.remove();
  try { await api(`/products/${encodeURIComponent(id)}`, { method: "DELETE" }); card.remove(); toast(`Deleted ${id}`); }
  catch (err) { card.append(el("p", { class: "card-error error", role: "alert" }, err.message)); }
}
