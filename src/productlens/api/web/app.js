// productlens web page: routing between the search, product and catalogue views (common.js,
// search.js, product.js and catalog.js, loaded before this file, hold the views).
"use strict";

function route() {
  const hash = location.hash || "#/";
  $("#nav-search").classList.toggle("active", hash === "#/" || hash.startsWith("#/?"));
  $("#nav-catalog").classList.toggle("active", hash.startsWith("#/catalog"));
  if (hash.startsWith("#/product/")) renderProduct(decodeURIComponent(hash.slice("#/product/".length)));
  else if (hash.startsWith("#/catalog")) renderCatalog();
  else renderSearch();
}

setupKeyPanel();
window.addEventListener("hashchange", route);
refreshAccess().catch((err) => setStatus($("#key-status"), err.message, "error")).finally(route);
