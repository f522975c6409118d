// Staff workspace: live parse previews, inline validation, repeatable list items, job progress, 校对.
// Plain browser JavaScript, no build step; every page works without it.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function byName(form, attribute, name) {
  return form.querySelector(`[${attribute}="${CSS.escape(name)}"]`);
}

function csrfToken(form) {
  const input = form.querySelector('input[name="csrf_token"]');
  return input ? input.value : "";
}

// ---- live preview of how a raw string parses ----------------------------------------------
function setupPreviews(form) {
  const url = form.dataset.parseUrl;
  for (const input of form.querySelectorAll("[data-parse]")) {
    const output = byName(form, "data-preview-for", input.name);
    if (!output) continue;
    const show = async () => {
      const text = input.value.trim();
      if (!text) { output.textContent = ""; output.className = "preview"; return; }
      const query = new URLSearchParams({ kind: input.dataset.parse, text });
      try {
        const response = await fetch(`${url}?${query}`, { credentials: "same-origin" });
        if (response.status === 401) { output.textContent = "登录已过期：请在新窗口重新登录后再保存（本页内容不会丢失）"; return; }
        const preview = await response.json();
        if (preview.ok) {
          output.className = "preview ok" + (preview.warnings.length ? " warn" : "");
          output.textContent = "→ " + (preview.summary || "（已识别）") +
            (preview.warnings.length ? "　⚠ " + preview.warnings.join("；") : "");
        } else {
          output.className = "preview bad";
          output.textContent = "✗ " + preview.error;
        }
      } catch (error) {
        output.textContent = "";
      }
    };
    input.addEventListener("input", debounce(show, 250));
    show();
  }
}

// ---- inline validation of the whole card -------------------------------------------------------
function setupChecks(form) {
  const url = form.dataset.checkUrl;
  const summary = document.querySelector("[data-summary]");
  const unplaced = document.querySelector("[data-unplaced]");
  const changes = form.querySelector("[data-changes]");
  const check = async () => {
    let result;
    try {
      const response = await fetch(url, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(form) },
      });
      if (!response.ok) return;
      result = await response.json();
    } catch (error) { return; }
    for (const element of form.querySelectorAll("[data-error-for]")) {
      if (element.dataset.errorFor !== "reason") element.textContent = "";
    }
    for (const element of form.querySelectorAll("[data-warnings-for]")) element.replaceChildren();
    for (const element of form.querySelectorAll(".field.has-error")) element.classList.remove("has-error");
    for (const field of result.fields) {
      const error = byName(form, "data-error-for", field.name);
      if (error && field.error) {
        error.textContent = field.error;
        error.closest(".field")?.classList.add("has-error");
        error.closest("details")?.setAttribute("open", "");
      }
      const warnings = byName(form, "data-warnings-for", field.name);
      if (warnings) {
        for (const text of field.warnings) { const li = document.createElement("li"); li.textContent = text; warnings.append(li); }
      }
    }
    if (unplaced) {
      unplaced.replaceChildren(...result.unplaced.map(text => { const li = document.createElement("li"); li.textContent = text; return li; }));
      summary.classList.toggle("hidden", result.unplaced.length === 0);
    }
    if (changes) {
      changes.replaceChildren();
      if (result.changes.length) {
        const head = document.createElement("p");
        head.textContent = `保存后将修改 ${result.changes.length} 个字段：`;
        const list = document.createElement("ul");
        for (const change of result.changes) {
          const li = document.createElement("li");
          li.textContent = `${change.label}：${change.old} → ${change.new}`;
          list.append(li);
        }
        changes.append(head, list);
      }
    }
  };
  form.addEventListener("input", debounce(check, 600));
  form.addEventListener("change", debounce(check, 600));
}

// ---- repeatable list items ------------------------------------------------------------------------
function setupLists(form) {
  for (const button of form.querySelectorAll("[data-add]")) {
    button.addEventListener("click", () => {
      const fieldset = button.closest("[data-list]");
      const items = fieldset.querySelector(".items");
      const template = byName(fieldset, "data-blank-for", button.dataset.add);
      const index = items.children.length;
      const html = template.innerHTML.replaceAll("__i__", String(index));
      const holder = document.createElement("div");
      holder.innerHTML = html;  // the template is our own escaped markup
      items.append(...holder.children);
    });
  }
}

// ---- job progress ---------------------------------------------------------------------------------
function setupJob(section) {
  const url = section.dataset.jobUrl;
  const label = status => section.dataset["label" + status.charAt(0).toUpperCase() + status.slice(1)] || status;
  const poll = async () => {
    let job;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return setTimeout(poll, 3000);
      job = await response.json();
    } catch (error) { return setTimeout(poll, 3000); }
    section.dataset.status = job.status;
    section.querySelector("[data-job-status]").textContent = label(job.status);
    const bar = section.querySelector("[data-job-progress]");
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    section.querySelector("[data-job-count]").textContent = `${job.done} / ${job.total}`;
    section.querySelector("[data-job-message]").textContent = job.message;
    const problems = section.querySelector("[data-job-problems]");
    problems.replaceChildren(...(job.result.problems || []).map(text => { const li = document.createElement("li"); li.textContent = text; return li; }));
    section.querySelector("[data-job-done]").classList.toggle("hidden", job.status !== "done");
    if (job.status === "queued" || job.status === "running") setTimeout(poll, 1000);
  };
  poll();
}

// ---- 校对: the scan beside its lines; a line chosen shows its crop and its place on the scan ----------
function setupProofread(root) {
  const width = Number(root.dataset.width);
  const height = Number(root.dataset.height);
  const box = root.querySelector("[data-line-box]");
  const cropFrame = root.querySelector("[data-crop-frame]");
  const crop = root.querySelector("[data-crop]");
  const cropLabel = root.querySelector("[data-crop-label]");
  const choose = (line) => {
    if (line.classList.contains("chosen")) return;
    for (const other of root.querySelectorAll(".proof-line.chosen")) other.classList.remove("chosen");
    line.classList.add("chosen");
    const hasBox = Boolean(line.dataset.box);
    box.classList.toggle("hidden", !hasBox || !width || !height);
    cropFrame.classList.toggle("hidden", !hasBox);
    if (!hasBox) return;
    const [x, y, w, h] = line.dataset.box.split(",").map(Number);
    if (width && height) {  // CSSOM, not a style attribute: allowed by the page's CSP
      box.style.left = `${(100 * x) / width}%`;
      box.style.top = `${(100 * y) / height}%`;
      box.style.width = `${(100 * w) / width}%`;
      box.style.height = `${(100 * h) / height}%`;
    }
    crop.src = line.dataset.cropUrl;
    const input = line.querySelector("input[name=line]");
    cropLabel.textContent = input ? input.getAttribute("aria-label") : "";
  };
  for (const line of root.querySelectorAll(".proof-line")) {
    line.addEventListener("click", () => choose(line));
    line.addEventListener("focusin", () => choose(line));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("card-form");
  if (form) { setupPreviews(form); setupChecks(form); setupLists(form); }
  const job = document.querySelector("[data-job-url]");
  if (job) setupJob(job);
  const proofread = document.querySelector("[data-proofread]");
  if (proofread) setupProofread(proofread);
});
