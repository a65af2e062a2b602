// Every product in the photo: POST /search with objects=true, the detected boxes drawn over the
// photo, one result strip per box; clicking a box (or a strip's heading) focuses that object.
"use strict";

function clearObjects() {
  const layer = $("#detections"), strips = $("#object-strips");
  if (layer) { layer.replaceChildren(); layer.classList.remove("focused"); }
  if (strips) strips.replaceChildren();
}

function focusObject(n) {
  const layer = $("#detections");
  layer.classList.add("focused");
  for (const node of document.querySelectorAll(".det, .strip")) node.classList.toggle("focus", Number(node.dataset.object) === n);
  const strip = document.querySelector(`.strip[data-object="${n}"]`);
  if (strip) strip.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function imageSize(img) {
  if (!img.complete || !img.naturalWidth) await new Promise((resolve) => img.addEventListener("load", resolve, { once: true }));
  return [img.naturalWidth, img.naturalHeight];
}

async function runObjects(file, box, k, where) {
  const status = $("#search-status");
  const data = new FormData();
  data.append("image", file);
  data.append("objects", "true");
  data.append("k", k);
  if (box) data.append("box", box.map((v) => v.toFixed(4)).join(","));
  if (where) data.append("where", where);
  setStatus(status, "Finding the products…");
  showRecognition(null, []);
  $("#facets").replaceChildren();
  $("#results").replaceChildren();
  try {
    const found = await api("/search", { method: "POST", body: data });
    const [width, height] = await imageSize($("#preview"));
    const detected = found.objects.filter((o) => !o.whole_frame).length;
    setStatus(status, detected ? `${detected} products found in ${found.took_ms} ms; click a box to focus it`
      : `No separate product found: the whole photo was searched (${found.took_ms} ms)`);
    const layer = $("#detections");
    layer.replaceChildren(...found.objects.filter((o) => !o.whole_frame).map((o, i) => {
      const [x0, y0, x1, y1] = o.box;
      const node = el("div", { class: "det", "data-object": String(i + 1), role: "button", tabindex: "0",
        "aria-label": `object ${i + 1}`, title: `object ${i + 1} · detection score ${num(o.score)}`,
        onclick: (e) => { e.stopPropagation(); focusObject(i + 1); },
        onkeydown: (e) => { if (e.key === "Enter") focusObject(i + 1); } }, el("span", {}, String(i + 1)));
      Object.assign(node.style, { left: `${(x0 / width) * 100}%`, top: `${(y0 / height) * 100}%`,
        width: `${((x1 - x0) / width) * 100}%`, height: `${((y1 - y0) / height) * 100}%` });
      return node;
    }));
    $("#object-strips").replaceChildren(...found.objects.map((o, i) => {
      const r = o.recognition;
      const verdict = r.known ? `recognised: ${r.product.title}` : "not confidently recognised";
      const label = o.whole_frame ? "Whole photo" : `Object ${i + 1} · detection ${num(o.score)}`;
      return el("div", { class: "strip", "data-object": String(i + 1) },
        el("h3", { onclick: () => focusObject(i + 1) }, `${label} · ${verdict}`),
        el("div", { class: "row" }, ...o.results.map((hit) => productCard(hit,
          el("div", { class: "score" }, `#${hit.rank} · similarity ${hit.score.toFixed(3)}`)))));
    }));
  } catch (err) {
    setStatus(status, err.message, "error");
    clearObjects();
  }
}
