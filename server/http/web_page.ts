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
td.actions button { padding: .15rem .5rem; font-size: 13px; }
.icon { display: inline-block; width: 1.4em; }
#drop { display: none; position: fixed; inset: 0; background: color-mix(in srgb, var(--accent) 15%, transparent); border: 3px dashed var(--accent); z-index: 5; }
body.dragging #drop { display: block; }
#uploads { padding: 0 1rem; }
.upload { display: flex; gap: .6rem; align-items: center; font-size: 13px; margin: .3rem 0; }
.upload progress { flex: 1; }
@media (max-width: 600px) { td.time { display: none; } }
</style>
</head>
<body>
<header>
  <nav id="crumbs"></nav>
  <span class="write"><button id="mkdir">New folder</button>
  <label class="button">Upload<input id="pick" type="file" multiple hidden></label></span>
  <a id="zip" class="button" href="?zip">Download zip</a>
</header>
<div id="uploads"></div>
<main><table>
<thead><tr><th data-key="name">Name</th><th data-key="size">Size</th><th data-key="mtime" class="time">Modified</th><th></th></tr></thead>
<tbody id="rows"></tbody></table></main>
<div id="drop"></div>
<script>
"use strict";
const here = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
let entries = [], sortKey = "name", sortDir = 1, readOnly = false;
const $ = (id) => document.getElementById(id);
const fmtSize = (n) => { const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; };
const icon = (e) => e.type === "dir" ? "\\u{1F4C1}" : /\\.(png|jpe?g|gif|webp|svg)$/i.test(e.name) ? "\\u{1F5BC}" : "\\u{1F4C4}";
function crumbs() {
  const parts = decodeURIComponent(here).split("/").filter(Boolean);
  let href = "/";
  const links = ['<a href="/">files</a>'];
  for (const p of parts) { href += encodeURIComponent(p) + "/"; links.push('<a href="' + href + '">' + esc(p) + "</a>"); }
  $("crumbs").innerHTML = links.join(" / ");
}
const esc = (s) => s.replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
async function load() {
  const r = await fetch(here + "?json", { headers: { accept: "application/json" } });
  if (!r.ok) { $("rows").innerHTML = "<tr><td>" + esc(await r.text()) + "</td></tr>"; return; }
  const body = await r.json();
  entries = body.entries; readOnly = body.readOnly;
  for (const el of document.querySelectorAll(".write")) el.hidden = readOnly;
  render();
}
function render() {
  const sorted = [...entries].sort((a, b) => (a.type === "dir") !== (b.type === "dir") ? (a.type === "dir" ? -1 : 1) : (a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0) * sortDir);
  $("rows").innerHTML = sorted.map((e) => {
    const href = here + encodeURIComponent(e.name) + (e.type === "dir" ? "/" : "");
    const actions = readOnly ? "" : '<button data-act="rename">Rename</button> <button data-act="delete">Delete</button>';
    return '<tr data-name="' + esc(e.name) + '"><td class="name"><span class="icon">' + icon(e) + '</span><a href="' + href + '">' + esc(e.name) + "</a></td><td class=size>" + (e.type === "dir" ? "" : fmtSize(e.size)) + "</td><td class=time>" + new Date(e.mtime).toLocaleString() + '</td><td class="actions">' + actions + "</td></tr>";
  }).join("");
}
document.querySelector("thead").onclick = (ev) => { const k = ev.target.dataset.key; if (!k) return; sortDir = k === sortKey ? -sortDir : 1; sortKey = k; render(); };
$("rows").onclick = async (ev) => {
  const act = ev.target.dataset.act; if (!act) return;
  const name = ev.target.closest("tr").dataset.name;
  const url = here + encodeURIComponent(name);
  if (act === "delete" && confirm('Delete "' + name + '"?')) await check(fetch(url, { method: "DELETE" }));
  if (act === "rename") { const to = prompt("New name", name); if (to && to !== name) await check(fetch(url, { method: "MOVE", headers: { destination: here + encodeURIComponent(to), overwrite: "F" } })); }
  load();
};
async function check(p) { const r = await p; if (!r.ok) alert(await r.text()); return r; }
$("mkdir").onclick = async () => { const n = prompt("Folder name"); if (n) { await check(fetch(here + encodeURIComponent(n), { method: "MKCOL" })); load(); } };
function upload(file, path) {
  const row = document.createElement("div"); row.className = "upload";
  row.innerHTML = "<span>" + esc(path) + "</span><progress max=1 value=0></progress>";
  $("uploads").append(row);
  return new Promise((done) => {
    const x = new XMLHttpRequest();
    x.open("PUT", here + path.split("/").map(encodeURIComponent).join("/"));
    x.upload.onprogress = (e) => { row.lastChild.value = e.loaded / (e.total || 1); };
    x.onloadend = () => { row.remove(); done(x.status); };
    x.send(file);
  });
}
async function uploadAll(items) { for (const [file, path] of items) await upload(file, path); load(); }
$("pick").onchange = (ev) => uploadAll([...ev.target.files].map((f) => [f, f.name]));
addEventListener("dragover", (ev) => { ev.preventDefault(); document.body.classList.add("dragging"); });
addEventListener("dragleave", (ev) => { if (!ev.relatedTarget) document.body.classList.remove("dragging"); });
addEventListener("drop", async (ev) => {
  ev.preventDefault(); document.body.classList.remove("dragging");
  if (readOnly) return;
  const items = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) items.push([await new Promise((ok, bad) => entry.file(ok, bad)), prefix + entry.name]);
    else {
      await fetch(here + (prefix + entry.name).split("/").map(encodeURIComponent).join("/"), { method: "MKCOL" });
      const reader = entry.createReader();
      for (let batch; (batch = await new Promise((ok, bad) => reader.readEntries(ok, bad))).length;) for (const e of batch) await walk(e, prefix + entry.name + "/");
    }
  };
  for (const item of ev.dataTransfer.items) { const e = item.webkitGetAsEntry(); if (e) await walk(e, ""); }
  uploadAll(items);
});
crumbs(); load();
</script>
</body>
</html>
`;

/** The page's HTML. */
export function webPage(): string {
  return PAGE;
}
