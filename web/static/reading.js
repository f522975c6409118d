// The record page's reading view: the text of the pages the viewer shows, beside the scan.
// It follows the embedded Mirador (same origin: its store is `guji.store` of the viewer's window)
// as the reader turns pages or a search jumps to a hit, and fetches the text of the pages shown
// (/books/{id}/reading?page=…, HTML made by the server). The layout — vertical, right to left, as
// the book is printed, or horizontal — is remembered in this browser. Without script the page
// shows the text of the page it was opened at; the toggle and the leaf links are plain links.
"use strict";

const LAYOUT_KEY = "guji-reading-layout";

function storedLayout() {
  try { return localStorage.getItem(LAYOUT_KEY); } catch (error) { return null; }
}

function setupLayout(section) {
  const toggle = section.querySelector("[data-reading-toggle]");
  const apply = (layout) => {
    section.classList.toggle("horizontal", layout === "horizontal");
    section.classList.toggle("vertical", layout !== "horizontal");
    toggle.textContent = layout === "horizontal" ? toggle.dataset.vertical : toggle.dataset.horizontal;
  };
  if (!new URLSearchParams(location.search).get("layout") && storedLayout()) apply(storedLayout());
  toggle.addEventListener("click", (event) => {
    event.preventDefault();
    const layout = section.classList.contains("horizontal") ? "vertical" : "horizontal";
    apply(layout);
    try { localStorage.setItem(LAYOUT_KEY, layout); } catch (error) { /* storage off: this page only */ }
  });
}

function followViewer(section, frame) {
  const body = section.querySelector("[data-reading-body]");
  const served = section.dataset.pages || "";
  let shown = null;
  let latest = 0;
  const show = async (pages) => {
    const params = new URLSearchParams();
    for (const page of pages) params.append("page", page);
    if (section.dataset.query) params.set("q", section.dataset.query);
    const mine = ++latest;
    try {
      const response = await fetch(`${section.dataset.reading}?${params}`, { credentials: "same-origin" });
      if (!response.ok || mine !== latest) return;
      body.innerHTML = await response.text();  // the server's own, escaped HTML
      section.dataset.pages = pages.join(" ");
    } catch (error) { /* offline for a moment: keep the text shown */ }
  };
  const update = (state) => {
    const windows = Object.values((state && state.windows) || {});
    const visible = windows.length ? windows[0].visibleCanvases || [] : [];
    if (!visible.length) return;
    const pages = visible.map((id) => id.split("/canvas/").pop());
    const key = pages.join(" ");
    if (shown === null) {  // the first pages the viewer shows: the server has drawn (some of) them
      shown = key;
      if (section.hasAttribute("data-text-only") || key === served) return;
    } else if (key === shown) {
      return;
    }
    shown = key;
    show(pages);
  };
  const attach = () => {
    let viewer = null;
    try { viewer = frame.contentWindow && frame.contentWindow.guji; } catch (error) { return true; }
    if (!viewer || !viewer.store) return false;
    viewer.store.subscribe(() => update(viewer.store.getState()));
    update(viewer.store.getState());
    return true;
  };
  const timer = setInterval(() => { if (attach()) clearInterval(timer); }, 250);
  setTimeout(() => clearInterval(timer), 60000);
}

document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector("[data-reading]");
  if (!section) return;
  setupLayout(section);
  const frame = document.querySelector("iframe.viewer");
  if (frame) followViewer(section, frame);
});
