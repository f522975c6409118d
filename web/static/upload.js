// Staff ingest page: upload a book's scans from the browser — a folder (dropped, or chosen with the
// folder picker) or one zip — file by file in chunks. Each chunk carries its SHA-256 (js-sha256, from
// npm, served at /staff/upload/sha256.js: Web Crypto is missing on plain-http addresses and cannot hash
// a file in pieces), and the whole file's SHA-256, computed while reading, is checked when it is complete.
// A failed request is retried and the file goes on from the last chunk the server has; choosing the
// same folder and card again after the page was closed resumes too (the server finds the session).
"use strict";

const SKIPPED = /^(\.|__MACOSX$|thumbs\.db$|desktop\.ini$)/i;  // system files, never part of a book
const RETRIES = 8;

class Refused extends Error {}

function megabytes(bytes) {
  return bytes >= 1073741824 ? `${(bytes / 1073741824).toFixed(2)} GB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

function wait(ms) { return new Promise(resolve => setTimeout(resolve, ms)); }

// ---- what was chosen ----------------------------------------------------------------------------------
function fromFolderPicker(input) {
  // webkitRelativePath is "book/sub/0001.tif": the first part is the folder chosen
  const files = [];
  let name = "";
  for (const file of input.files) {
    const parts = file.webkitRelativePath.split("/");
    name = name || parts[0];
    if (parts.some(part => SKIPPED.test(part))) continue;
    files.push({ path: parts.slice(1).join("/"), file });
  }
  return { name, files };
}

function fileOf(entry) { return new Promise((resolve, reject) => entry.file(resolve, reject)); }

async function walk(directory, prefix, out) {
  const reader = directory.createReader();
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return;
    for (const entry of batch) {
      if (SKIPPED.test(entry.name)) continue;
      if (entry.isDirectory) await walk(entry, `${prefix}${entry.name}/`, out);
      else out.push({ path: prefix + entry.name, file: await fileOf(entry) });
    }
  }
}

async function fromDrop(dataTransfer) {
  const entries = [...dataTransfer.items].map(item => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  const [zip] = dataTransfer.files;
  if (!entries.length && dataTransfer.files.length === 1 && /\.zip$/i.test(zip.name)) {
    return { name: zip.name, files: [{ path: zip.name, file: zip }] };  // a browser without folder entries
  }
  if (entries.length !== 1 || !(entries[0].isDirectory || /\.zip$/i.test(entries[0].name))) {
    throw new Refused("请拖入一部书的一个文件夹，或一个 zip 压缩包");
  }
  const [entry] = entries;
  if (!entry.isDirectory) return { name: entry.name, files: [{ path: entry.name, file: await fileOf(entry) }] };
  const files = [];
  await walk(entry, "", files);
  return { name: entry.name, files };
}

// ---- talking to the server -------------------------------------------------------------------------------
function uploader(root) {
  const csrf = root.dataset.csrf;
  const status = root.querySelector("[data-upload-status]");
  const bar = root.querySelector("[data-upload-bar]");
  const count = root.querySelector("[data-upload-count]");
  const error = root.querySelector("[data-upload-error]");
  const panel = root.querySelector("[data-upload-progress]");
  let session = null;
  let busy = false;

  // One request, retried on a broken connection or a gateway error; {status, body} of the answer.
  async function call(path, options = {}) {
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await fetch(path, {
          credentials: "same-origin", ...options, headers: { "X-CSRF-Token": csrf, ...(options.headers || {}) },
        });
      } catch (failure) {
        response = null;
      }
      if (response && ![502, 503, 504].includes(response.status)) {
        let body = {};
        try { body = await response.json(); } catch (failure) { body = { detail: `服务器回答 ${response.status}` }; }
        if (response.status === 401) throw new Refused("登录已过期：请在新窗口重新登录，然后重新选择同一文件夹，上传会从断点继续");
        return { status: response.status, body };
      }
      if (attempt > RETRIES) throw new Refused("连接一直中断，上传已暂停：网络恢复后重新选择同一文件夹即可从断点继续");
      const seconds = Math.min(2 ** (attempt - 1), 30);
      status.textContent = `连接中断，${seconds} 秒后重试（第 ${attempt} 次）…`;
      await wait(1000 * seconds);
    }
  }

  function json(method, path, payload) {
    return call(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
  }

  function show(sent, total, text) {
    bar.max = Math.max(total, 1);
    bar.value = sent;
    count.textContent = `${megabytes(sent)} / ${megabytes(total)}`;
    status.textContent = text;
  }

  // Send one file from where the server's copy ends; returns when the server has checked it whole.
  async function sendFile(entry, file, progress) {
    let whole = sha256.create();
    let hashed = 0;  // bytes of the file in `whole`
    const hashUpTo = async end => {  // a resumed file: hash what was sent before, read again from disk
      while (hashed < end) {
        const stop = Math.min(end, hashed + session.chunk_bytes);
        whole.update(new Uint8Array(await file.slice(hashed, stop).arrayBuffer()));
        hashed = stop;
      }
    };
    let offset = entry.received;
    let damaged = 0;  // chunks that arrived damaged and were sent again
    for (let restarts = 0; ; restarts++) {
      while (offset < file.size) {
        const end = Math.min(file.size, offset + session.chunk_bytes);
        const bytes = new Uint8Array(await file.slice(offset, end).arrayBuffer());
        const answer = await call(`/staff/api/uploads/${session.id}/files/${entry.index}?offset=${offset}`, {
          method: "PUT", body: bytes, headers: { "Content-Type": "application/octet-stream", "X-Chunk-SHA256": sha256(bytes) },
        });
        if (answer.status === 200) {
          await hashUpTo(offset);
          whole.update(bytes);
          hashed = end;
        }
        if (answer.status === 200 || (answer.status === 409 && typeof answer.body.received === "number")) {
          const { received } = answer.body;  // a 409: the server has another amount (a reply that got lost)
          if (received < hashed) {
            whole = sha256.create();  // less than was hashed: hash again from the start
            hashed = 0;
          }
          progress(received - offset);
          offset = received;
          continue;
        }
        if (answer.status === 422 && typeof answer.body.received === "number" && ++damaged <= 3) continue;  // again
        throw new Refused(answer.body.detail || `上传失败（${answer.status}）`);
      }
      await hashUpTo(file.size);
      const done = await json("POST", `/staff/api/uploads/${session.id}/files/${entry.index}/complete`, { sha256: whole.hex() });
      if (done.status === 200) return;
      if (done.status === 422 && restarts < 1) {  // whole file differs: the server dropped it; send it once more
        progress(-offset);
        offset = 0;
        whole = sha256.create();
        hashed = 0;
        continue;
      }
      throw new Refused(done.body.detail || `上传失败（${done.status}）`);
    }
  }

  async function start(chosen) {
    if (busy) return;
    error.classList.add("hidden");
    const card = root.querySelector("[data-upload-card]").value;
    try {
      if (!card) throw new Refused("请先选择这部书的卡片");
      if (!chosen.files.length) throw new Refused("所选文件夹里没有文件");
      busy = true;
      panel.classList.remove("hidden");
      status.textContent = "正在核对文件清单…";
      const opened = await json("POST", "/staff/api/uploads", {
        card_id: card, name: chosen.name, files: chosen.files.map(item => ({ path: item.path, size: item.file.size })),
      });
      if (opened.status !== 200) throw new Refused(opened.body.detail);
      session = opened.body;
      let sent = session.received;
      const left = session.files.filter(entry => !entry.done);
      for (const [number, entry] of left.entries()) {
        const text = `正在上传「${entry.path}」（第 ${number + 1} / ${left.length} 个${sent ? "，从断点继续" : ""}）`;
        show(sent, session.size, text);
        await sendFile(entry, chosen.files[entry.index].file, bytes => { sent += bytes; show(sent, session.size, text); });
      }
      show(session.size, session.size, "全部收到，正在开始入藏…");
      const finished = await call(`/staff/api/uploads/${session.id}/finish`, { method: "POST" });
      if (finished.status !== 200) throw new Refused(finished.body.detail);
      window.location.href = finished.body.url;
    } catch (failure) {
      busy = false;
      error.textContent = failure instanceof Refused ? failure.message : `上传中断：${failure}。重新选择同一文件夹即可从断点继续`;
      error.classList.remove("hidden");
    }
  }

  async function cancel() {
    if (session) await call(`/staff/api/uploads/${session.id}`, { method: "DELETE" });
    window.location.reload();
  }

  return { start, cancel };
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-upload]");
  if (!root) return;
  const upload = uploader(root);
  const drop = root.querySelector("[data-drop]");
  const folderPicker = root.querySelector("[data-pick-folder]");
  const zipPicker = root.querySelector("[data-pick-zip]");
  // (the pickers are emptied after each choice: choosing the same folder again must start it again, to resume)
  folderPicker.addEventListener("change", () => {
    const chosen = fromFolderPicker(folderPicker);
    folderPicker.value = "";
    upload.start(chosen);
  });
  zipPicker.addEventListener("change", () => {
    const [file] = zipPicker.files;
    zipPicker.value = "";
    if (file) upload.start({ name: file.name, files: [{ path: file.name, file }] });
  });
  drop.addEventListener("dragover", event => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async event => {
    event.preventDefault();
    drop.classList.remove("over");
    try {
      upload.start(await fromDrop(event.dataTransfer));
    } catch (failure) {
      const error = root.querySelector("[data-upload-error]");
      error.textContent = failure.message;
      error.classList.remove("hidden");
    }
  });
  root.querySelector("[data-upload-cancel]").addEventListener("click", () => upload.cancel());
});
