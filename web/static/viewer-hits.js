// The viewer page: a search inside the book also finds text whose leaf was never scanned. Mirador
// can only show hits on canvases, so the Content Search answer lists the others apart
// (`textWithoutScan`, docs/search.md); this lists them under the viewer, each a link to the record
// page that shows that leaf's text with the match marked. The viewer is `guji` (viewer.html).
"use strict";

function textHitsOf(state) {
  const found = [];
  for (const byPanel of Object.values((state && state.searches) || {})) {
    for (const search of Object.values(byPanel || {})) {
      for (const response of Object.values((search && search.data) || {})) {
        if (response && response.json && !response.isFetching) found.push(...(response.json.textWithoutScan || []));
      }
    }
  }
  return found;
}

function showTextHits(box, hits) {
  box.replaceChildren();
  box.classList.toggle("hidden", hits.length === 0);
  if (!hits.length) return;
  const heading = document.createElement("p");
  heading.textContent = box.dataset.heading.replace("{count}", String(hits.length));
  const list = document.createElement("ol");
  for (const hit of hits) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = hit.url;
    link.target = "_top";  // out of the record page's frame: the record page shows the leaf's text
    link.textContent = hit.label;
    const mark = document.createElement("mark");
    mark.textContent = hit.match;
    item.append(link, " …", hit.before, mark, hit.after, "…");
    list.append(item);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "×";
  close.title = box.dataset.close;
  close.addEventListener("click", () => box.classList.add("hidden"));
  box.append(close, heading, list);
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-text-hits]");
  if (!box) return;
  let shown = "";
  const attach = () => {
    const viewer = window.guji;
    if (!viewer || !viewer.store) return false;
    viewer.store.subscribe(() => {
      const hits = textHitsOf(viewer.store.getState());
      const key = JSON.stringify(hits);
      if (key === shown) return;
      shown = key;
      showTextHits(box, hits);
    });
    return true;
  };
  const timer = setInterval(() => { if (attach()) clearInterval(timer); }, 200);
  setTimeout(() => clearInterval(timer), 60000);
});
