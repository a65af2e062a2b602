// Recommendations on the page: "Often bought with" on a product's page (GET /recommend?product=)
// and the catalogue's "Recommended for" box (GET /recommend?user=).
"use strict";

function recommendationCards(results) {
  return results.map((hit) => {
    const card = productCard(hit);
    if (!hit.thumb_url) card.querySelector("img").remove();
    return card;
  });
}

async function showBoughtWith(id) {
  const note = $("#p-bought-with-note");
  try {
    const answer = await api(`/recommend?product=${encodeURIComponent(id)}&k=8`);
    $("#p-bought-with").replaceChildren(...recommendationCards(answer.results));
    note.hidden = answer.results.length > 0;
    note.textContent = "No other products to suggest yet.";
  } catch (err) {
    note.hidden = false;
    note.textContent = err.message;
  }
}

async function recommendForUser(e) {
  e.preventDefault();
  const user = $("#rec-user").value.trim();
  const status = $("#rec-status");
  if (!user) { setStatus(status, "Enter a shopper's id.", "error"); return; }
  setStatus(status, "Asking…");
  try {
    const answer = await api(`/recommend?user=${encodeURIComponent(user)}&k=10`);
    $("#rec-results").replaceChildren(...recommendationCards(answer.results));
    setStatus(status, `${plural(answer.results.length, "product")} for ${user}.`, "ok");
  } catch (err) { setStatus(status, err.message, "error"); }
}
