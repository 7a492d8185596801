/**
 * The web page, embedded as a string so `deno compile` carries it with no
 * `--include`: one HTML document with its CSS and script inline, no CDN, no
 * build step. It reads folders as JSON (`?json`) and writes with plain
 * PUT/DELETE/MKCOL/MOVE, the same requests curl and WebDAV clients send.
 *
 * @module
 */

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fts</title>
<style>
:root { color-scheme: light dark; --bg: #fff; --fg: #1d1d1f; --muted: #6e6e73; --line: #e5e5ea; --accent: #0a66d8; --hover: #f2f2f7; }
@media (prefers-color-scheme: dark) { :root { --bg: #1c1c1e; --fg: #f5f5f7; --muted: #98989d; --line: #38383a; --accent: #4da3ff; --hover: #2c2c2e; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .8rem 1rem; border-bottom: 1px solid var(--line); }
#crumbs { flex: 1; font-weight: 600; overflow-wrap: anywhere; }
#crumbs a { color: var(--accent); text-decoration: none; }
button, .button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--line); border-radius: 8px; background: transparent; color: var(--fg); cursor: pointer; text-decoration: none; }
button:hover, .button:hover { background: var(--hover); }
main { padding: 0 1rem 2rem; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 500; color: var(--muted); cursor: pointer; user-select: none; padding: .5rem .4rem; border-bottom: 1px solid var(--line); }
td { padding: .45rem .4rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
tr:hover td { background: var(--hover); }
td.name a { color: var(--fg); text-decoration: none; }
td.size, td.time { color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
td.actions { text-align: right; white-space: nowrap; }
td.actions button, td.actions .button { padding: .15rem .5rem; font-size: 13px; }
.icon { display: inline-block; width: 1.6em; vertical-align: -3px; }
#drop { display: none; position: fixed; inset: 0; background: color-mix(in srgb, var(--accent) 15%, transparent); border: 3px dashed var(--accent); z-index: 5; }
body.dragging #drop { display: block; }
#uploads { padding: 0 1rem; }
.upload { display: flex; gap: .6rem; align-items: center; font-size: 13px; margin: .3rem 0; }
.upload progress { flex: 1; }
#login { max-width: 320px; margin: 12vh auto; display: grid; gap: .8rem; padding: 1.5rem; border: 1px solid var(--line); border-radius: 14px; }
#login[hidden], #app[hidden] { display: none; }
#login h1 { margin: 0; font-size: 1.4rem; }
#login label { display: grid; gap: .3rem; color: var(--muted); font-size: 13px; }
#login input { font: inherit; padding: .5rem .6rem; border: 1px solid var(--line); border-radius: 8px; background: transparent; color: var(--fg); }
#login-error { color: #d70015; margin: 0; min-height: 1.2em; font-size: 13px; }
#who { color: var(--muted); font-size: 13px; }
.upload.failed .state { color: #d70015; }
#overall { width: 100%; margin-top: .5rem; }
th[data-sort="asc"]::after { content: " \\25B4"; } th[data-sort="desc"]::after { content: " \\25BE"; }
td.empty { color: var(--muted); text-align: center; padding: 2rem; }
code.sum { font-size: 11px; word-break: break-all; }
#preview { position: fixed; inset: 0; background: rgb(0 0 0 / .5); display: grid; place-items: center; z-index: 6; }
#preview[hidden] { display: none; }
#preview .card { background: var(--bg); border-radius: 12px; max-width: min(900px, 95vw); max-height: 90vh; overflow: auto; padding: 1rem; }
#preview header { padding: 0 0 .6rem; }
#preview img { max-width: 100%; }
#preview pre { white-space: pre-wrap; font-size: 13px; }
@media (max-width: 600px) { td.time { display: none; } td.actions .button, td.actions button { padding: .1rem .35rem; } }
</style>
</head>
<body>
<form id="login" hidden>
  <h1>fts</h1>
  <label>User <input id="login-name" autocomplete="username" required></label>
  <label>Password <input id="login-password" type="password" autocomplete="current-password" required></label>
  <button id="login-go">Log in</button>
  <p id="login-error" role="alert"></p>
</form>
<div id="app">
<header>
  <nav id="crumbs"></nav>
  <span id="who" hidden><span id="user"></span> <button id="logout">Log out</button></span>
  <span class="write"><button id="mkdir">New folder</button>
  <label class="button">Upload files<input id="pick" type="file" multiple hidden></label>
  <label class="button">Upload folder<input id="pickdir" type="file" webkitdirectory multiple hidden></label></span>
  <a id="zip" class="button" href="?zip">Download zip</a>
</header>
<div id="uploads"><progress id="overall" max=1 value=0 hidden></progress></div>
<div id="preview" hidden></div>
<main><table>
<thead><tr><th data-key="name">Name</th><th data-key="size">Size</th><th data-key="mtime" class="time">Modified</th><th></th></tr></thead>
<tbody id="rows"></tbody></table></main>
</div>
<div id="drop"></div>
<script>
"use strict";
const here = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
const CHUNK = 4 * 1024 * 1024;
let entries = [], sortKey = "name", sortDir = 1, readOnly = false;
const $ = (id) => document.getElementById(id);
// Every request says it comes from the page: the server's CSRF guard.
const api = (url, opts = {}) => fetch(url, { ...opts, headers: { "x-requested-with": "fts", ...opts.headers } });
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const enc = (path) => path.split("/").map(encodeURIComponent).join("/");
const fmtSize = (n) => { const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; };
const IMAGE = /\\.(png|jpe?g|gif|webp|svg|avif)$/i, TEXT = /\\.(txt|md|log|csv|json|xml|ya?ml|toml|ini|sh|py|js|ts|c|h|go|rs|html?|css)$/i;
const svg = (d, fill) => '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="' + fill + '" d="' + d + '"/></svg>';
const FOLDER = "M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z", FILE = "M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V8h4.5z";
const icon = (e) => e.type === "dir" ? svg(FOLDER, "var(--accent)") : svg(FILE, IMAGE.test(e.name) ? "#34a853" : TEXT.test(e.name) ? "var(--muted)" : /\\.(zip|gz|tar|xz|7z)$/i.test(e.name) ? "#c77c02" : "var(--muted)");
function crumbs() {
  const parts = decodeURIComponent(here).split("/").filter(Boolean);
  let href = "/";
  const links = ['<a href="/">files</a>'];
  for (const p of parts) { href += encodeURIComponent(p) + "/"; links.push('<a href="' + href + '">' + esc(p) + "</a>"); }
  $("crumbs").innerHTML = links.join(" / ");
}
async function load() {
  const r = await api(here + "?json", { headers: { accept: "application/json" } });
  if (r.status === 401) { showLogin(); return; }
  if (!r.ok) { $("rows").innerHTML = "<tr><td>" + esc(await r.text()) + "</td></tr>"; return; }
  const body = await r.json();
  entries = body.entries; readOnly = body.readOnly;
  $("who").hidden = !body.user; $("user").textContent = body.user || "";
  for (const el of document.querySelectorAll(".write")) el.hidden = readOnly;
  render();
}
function render() {
  const sorted = [...entries].sort((a, b) => (a.type === "dir") !== (b.type === "dir") ? (a.type === "dir" ? -1 : 1) : (a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0) * sortDir);
  for (const th of document.querySelectorAll("th[data-key]")) th.dataset.sort = th.dataset.key === sortKey ? (sortDir > 0 ? "asc" : "desc") : "";
  $("rows").innerHTML = sorted.map((e) => {
    const dir = e.type === "dir";
    const href = here + encodeURIComponent(e.name) + (dir ? "/" : "");
    const actions = (dir ? '<a class="button" href="' + href + '?zip">Zip</a>' : '<a class="button" download href="' + href + '">Download</a> <button data-act="sum">Checksum</button>') +
      (readOnly ? "" : ' <button class="write" data-act="rename">Rename</button> <button class="write" data-act="delete">Delete</button>');
    return '<tr data-name="' + esc(e.name) + '" data-dir="' + dir + '"><td class="name"><span class="icon">' + icon(e) + '</span><a data-act="open" href="' + href + '">' + esc(e.name) + "</a></td><td class=size>" + (dir ? "" : fmtSize(e.size)) + "</td><td class=time>" + new Date(e.mtime).toLocaleString() + '</td><td class="actions">' + actions + "</td></tr>";
  }).join("") || '<tr><td colspan=4 class="empty">This folder is empty' + (readOnly ? "" : " — drop files here") + "</td></tr>";
}
document.querySelector("thead").onclick = (ev) => { const k = ev.target.dataset.key; if (!k) return; sortDir = k === sortKey ? -sortDir : 1; sortKey = k; render(); };
async function check(p) { const r = await p; if (!r.ok) alert(await r.text()); return r; }
function preview(name, url) {
  const box = $("preview");
  box.innerHTML = '<div class="card"><header><b>' + esc(name) + '</b><button id="close">Close</button></header><div id="pv"></div></div>';
  $("close").onclick = () => { box.hidden = true; };
  box.hidden = false;
  if (IMAGE.test(name)) $("pv").innerHTML = '<img alt="" src="' + url + '">';
  else api(url, { headers: { range: "bytes=0-262143" } }).then((r) => r.text()).then((t) => { $("pv").innerHTML = "<pre>" + esc(t) + "</pre>"; });
}
$("rows").onclick = async (ev) => {
  const act = ev.target.dataset.act; if (!act) return;
  const tr = ev.target.closest("tr"), name = tr.dataset.name, url = here + encodeURIComponent(name);
  if (act === "open") { if (tr.dataset.dir === "false" && (IMAGE.test(name) || TEXT.test(name))) { ev.preventDefault(); preview(name, url); } return; }
  if (act === "sum") { const r = await check(api(url + "?sha256")); if (r.ok) ev.target.outerHTML = '<code class="sum">' + (await r.json()).sha256 + "</code>"; return; }
  if (act === "delete" && confirm('Delete "' + name + '"' + (tr.dataset.dir === "true" ? " and everything in it" : "") + "?")) await check(api(url, { method: "DELETE" }));
  if (act === "rename") {
    const to = prompt("New name or path (relative to this folder)", name);
    if (to && to !== name) await check(api(url, { method: "MOVE", headers: { destination: new URL(enc(to), location.origin + here).pathname, overwrite: "F" } }));
  }
  load();
};
$("mkdir").onclick = async () => { const n = prompt("Folder name"); if (n) { await check(api(here + encodeURIComponent(n), { method: "MKCOL" })); load(); } };
const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
async function sha256(file) {
  if (file.size > 512 * 1024 * 1024) return null; // Web Crypto hashes in one piece only
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
const tus = { "tus-resumable": "1.0.0" };
let totalBytes = 0, doneBytes = 0;
function overall() { $("overall").hidden = totalBytes === 0; $("overall").value = totalBytes ? doneBytes / totalBytes : 0; }
function patch(url, offset, blob, onProgress) {
  return new Promise((ok, fail) => {
    const x = new XMLHttpRequest();
    x.open("PATCH", url);
    x.setRequestHeader("tus-resumable", "1.0.0");
    x.setRequestHeader("x-requested-with", "fts");
    x.setRequestHeader("upload-offset", String(offset));
    x.setRequestHeader("content-type", "application/offset+octet-stream");
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => x.status === 204 ? ok(Number(x.getResponseHeader("upload-offset"))) : fail(new Error(x.responseText || String(x.status)));
    x.onerror = x.onabort = () => fail(new Error("connection lost"));
    x.send(blob);
  });
}
async function upload(file, path) {
  const row = document.createElement("div"); row.className = "upload";
  row.innerHTML = "<span>" + esc(path) + "</span><progress max=1 value=0></progress><span class=state>hashing</span>";
  $("uploads").append(row);
  const bar = row.querySelector("progress"), state = row.querySelector(".state");
  const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
  const name = path.slice(folder.length);
  let counted = 0;
  const progress = (at) => { bar.value = file.size ? at / file.size : 1; doneBytes += at - counted; counted = at; overall(); };
  try {
    const sum = await sha256(file);
    const meta = ["filename " + b64(name), "lastModified " + b64(String(file.lastModified))].concat(sum ? ["sha256 " + b64(sum)] : []).join(",");
    const created = await api(here + enc(folder), { method: "POST", headers: { ...tus, "upload-length": String(file.size), "upload-metadata": meta } });
    if (created.status !== 201) throw new Error(await created.text());
    const url = created.headers.get("location");
    let offset = Number((await api(url, { method: "HEAD", headers: tus })).headers.get("upload-offset")) || 0;
    progress(offset);
    for (let failures = 0; offset < file.size || file.size === 0;) {
      state.textContent = failures ? "resuming" : "uploading";
      try {
        offset = await patch(url, offset, file.slice(offset, offset + CHUNK), (n) => progress(offset + n));
        progress(offset);
        if (file.size === 0) break;
        failures = 0;
      } catch (error) {
        if (/sha256|Upload-Length/.test(error.message) || ++failures > 5) throw error;
        await new Promise((r) => setTimeout(r, 300 * failures));
        const head = await api(url, { method: "HEAD", headers: tus });
        offset = Number(head.headers.get("upload-offset")) || 0;
        progress(offset);
      }
    }
    row.remove();
  } catch (error) {
    state.textContent = "failed: " + error.message;
    row.classList.add("failed");
  }
}
async function uploadAll(items) {
  for (const [file] of items) totalBytes += file.size;
  overall();
  await Promise.all([0, 1].map(async () => { while (items.length) { const [file, path] = items.shift(); await upload(file, path); } }));
  totalBytes = doneBytes = 0; overall();
  load();
}
$("pick").onchange = (ev) => uploadAll([...ev.target.files].map((f) => [f, f.webkitRelativePath || f.name]));
$("pickdir").onchange = async (ev) => {
  const files = [...ev.target.files];
  const folders = new Set(files.flatMap((f) => { const p = f.webkitRelativePath.split("/"); return p.slice(0, -1).map((_, i) => p.slice(0, i + 1).join("/")); }));
  for (const d of [...folders].sort()) await api(here + enc(d), { method: "MKCOL" });
  uploadAll(files.map((f) => [f, f.webkitRelativePath]));
};
addEventListener("dragover", (ev) => { ev.preventDefault(); if (!readOnly) document.body.classList.add("dragging"); });
addEventListener("dragleave", (ev) => { if (!ev.relatedTarget) document.body.classList.remove("dragging"); });
addEventListener("drop", async (ev) => {
  ev.preventDefault(); document.body.classList.remove("dragging");
  if (readOnly) return;
  const items = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) items.push([await new Promise((ok, bad) => entry.file(ok, bad)), prefix + entry.name]);
    else {
      await api(here + enc(prefix + entry.name), { method: "MKCOL" });
      const reader = entry.createReader();
      for (let batch; (batch = await new Promise((ok, bad) => reader.readEntries(ok, bad))).length;) for (const e of batch) await walk(e, prefix + entry.name + "/");
    }
  };
  for (const e of [...ev.dataTransfer.items].map((item) => item.webkitGetAsEntry())) if (e) await walk(e, "");
  uploadAll(items);
});
const utf8 = (s) => new TextEncoder().encode(s);
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const toB64 = (b) => btoa(String.fromCharCode(...new Uint8Array(b)));
const hmac = async (key, data) => new Uint8Array(await crypto.subtle.sign("HMAC", await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]), utf8(data)));
// SCRAM-SHA-256 (RFC 5802/7677) in the browser: the password never leaves it.
async function scramLogin(name, password) {
  const nonce = toB64(crypto.getRandomValues(new Uint8Array(18)));
  const first = "n=" + name.replaceAll("=", "=3D").replaceAll(",", "=2C") + ",r=" + nonce;
  const post = (body) => api(here + "?login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const r1 = await post({ step: "first", data: "n,," + first });
  if (!r1.ok) throw new Error(await r1.text());
  const { id, data: serverFirst } = await r1.json();
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  if (!attrs.r.startsWith(nonce) || Number(attrs.i) > 10000000) throw new Error("the server's answer is malformed");
  const base = await crypto.subtle.importKey("raw", utf8(password.normalize("NFKC")), "PBKDF2", false, ["deriveBits"]);
  const salted = new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: fromB64(attrs.s), iterations: Number(attrs.i) }, base, 256));
  const clientKey = await hmac(salted, "Client Key");
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
  const withoutProof = "c=biws,r=" + attrs.r;
  const message = first + "," + serverFirst + "," + withoutProof;
  const signature = await hmac(storedKey, message);
  const proof = clientKey.map((b, i) => b ^ signature[i]);
  const r2 = await post({ step: "final", id, data: withoutProof + ",p=" + toB64(proof) });
  if (!r2.ok) throw new Error(await r2.text());
  const final = await r2.json();
  const expected = toB64(await hmac(await hmac(salted, "Server Key"), message));
  if (final.data !== "v=" + expected) throw new Error("the server did not prove it knows the password");
}
function showLogin() {
  $("login").hidden = false; $("app").hidden = true;
  $("login").onsubmit = async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    $("login-go").disabled = true;
    try { await scramLogin($("login-name").value, $("login-password").value); location.reload(); }
    catch (error) { $("login-error").textContent = error.message.trim(); }
    finally { $("login-go").disabled = false; }
  };
}
$("logout").onclick = async () => { await api(here + "?logout", { method: "POST" }); location.reload(); };
crumbs(); load();
</script>
</body>
</html>
`;

/** The page's HTML. */
export function webPage(): string {
  return PAGE;
}
