/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The web page's entry: loads the folder as JSON (`?json`), shows the login
 * form when the server asks for one, and wires the toolbar, the selection
 * bar, row menus, drag and drop, and uploads (which ask before replacing).
 *
 * @module
 */

import { api, encodePath, here, send, urlOf } from "./api.ts";
import {
  afterChanges,
  deleteEntries,
  makeFolder,
  menuItems,
  moveEntries,
  preview,
  previewable,
  runAction,
} from "./actions.ts";
import { openDialog, showError } from "./dialogs.ts";
import { byId, h } from "./dom.ts";
import { entryOf, render, setupListing, view } from "./listing.ts";
import { logout, showLogin } from "./login.ts";
import { openMenu } from "./menu.ts";
import { type UploadItem, UploadPanel } from "./upload_panel.ts";

document.documentElement.classList.add("js");

function crumbs(): void {
  const parts = decodeURIComponent(here).split("/").filter(Boolean);
  const nav = byId("crumbs");
  let href = "/";
  nav.replaceChildren(h("a", { href }, "files"));
  for (const part of parts) {
    href += `${encodeURIComponent(part)}/`;
    nav.append(h("span", { class: "sep" }, "/"), h("a", { href }, part));
  }
  nav.lastElementChild?.setAttribute("aria-current", "page");
  document.title = parts.length ? `${parts.at(-1)} — fts` : "fts";
}

/** Loads this folder's entries and redraws. */
async function load(): Promise<void> {
  const r = await api(`${here}?json`, {
    headers: { accept: "application/json" },
  });
  if (r.status === 401) return showLogin();
  if (!r.ok) {
    byId("rows").replaceChildren(
      h(
        "tr",
        {},
        h("td", { colspan: 5, class: "empty" }, (await r.text()).trim()),
      ),
    );
    return;
  }
  const body = await r.json();
  view.entries = body.entries;
  view.readOnly = body.readOnly;
  byId("who").hidden = !body.user;
  byId("user").textContent = body.user ?? "";
  document.body.classList.toggle("read-only", view.readOnly);
  render();
}

/** The top-level names of `items` that already exist here. */
function conflicts(items: UploadItem[]): string[] {
  const tops = new Set(items.map((i) => i.path.split("/")[0]));
  return [...tops].filter((name) => entryOf(name) !== undefined);
}

/** Asks before replacing; answers the items to send (none when cancelled). */
async function confirmReplace(items: UploadItem[]): Promise<UploadItem[]> {
  const clash = conflicts(items);
  if (clash.length === 0) return items;
  const answer = await openDialog({
    title: clash.length === 1
      ? `“${clash[0]}” already exists here`
      : `${clash.length} items already exist here`,
    message: `${clash.slice(0, 6).map((n) => `“${n}”`).join(", ")}${
      clash.length > 6 ? ` and ${clash.length - 6} more` : ""
    }. Replace files with the uploaded ones? (Folders are merged; files of the same name in them are replaced.)`,
    buttons: [
      { label: "Replace", value: "replace", kind: "danger" },
      { label: "Skip these", value: "skip" },
    ],
  });
  if (answer.button === "replace") return items;
  if (answer.button === "skip") {
    return items.filter((i) => !clash.includes(i.path.split("/")[0]));
  }
  return [];
}

const panel = new UploadPanel(() => load());

/** Creates the folders `items` need, then queues the files. */
async function uploadAll(
  items: UploadItem[],
  folders: string[] = [],
): Promise<void> {
  if (view.readOnly) return;
  const chosen = await confirmReplace(items);
  if (chosen.length === 0 && items.length !== 0) return;
  const needed = new Set(folders);
  for (const { path } of chosen) {
    const parts = path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      needed.add(parts.slice(0, i).join("/"));
    }
  }
  try {
    for (const folder of [...needed].sort()) {
      const r = await api(urlOf(folder, true), { method: "MKCOL" });
      // 405: the folder is there already, which is fine.
      if (!r.ok && r.status !== 405) {
        await send(`create the folder “${folder}”`, () => Promise.resolve(r));
      }
    }
  } catch (error) {
    return await showError(error);
  }
  panel.add(chosen, (path) => {
    const folder = path.includes("/")
      ? path.slice(0, path.lastIndexOf("/"))
      : "";
    return here + (folder ? `${encodePath(folder)}/` : "");
  });
  if (chosen.length === 0) await load();
}

/** Files and folders dropped on the page, walked into upload items. */
async function dropped(
  list: DataTransferItemList,
): Promise<[UploadItem[], string[]]> {
  const items: UploadItem[] = [];
  const folders: string[] = [];
  const walk = async (
    entry: FileSystemEntry,
    prefix: string,
  ): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, bad) =>
        (entry as FileSystemFileEntry).file(ok, bad)
      );
      items.push({ file, path: prefix + entry.name });
      return;
    }
    folders.push(prefix + entry.name);
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((ok, bad) =>
        reader.readEntries(ok, bad)
      );
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
    }
  };
  const roots = [...list].map((i) => i.webkitGetAsEntry()).filter((e) =>
    e !== null
  );
  for (const root of roots) await walk(root, "");
  return [items, folders];
}

function wire(): void {
  setupListing();
  afterChanges(load);
  byId("mkdir").onclick = () => makeFolder();
  byId("logout").onclick = () => logout();
  byId<HTMLInputElement>("pick").onchange = (event) => {
    const input = event.target as HTMLInputElement;
    const files = [...input.files ?? []];
    input.value = "";
    uploadAll(files.map((file) => ({ file, path: file.name })));
  };
  byId<HTMLInputElement>("pickdir").onchange = (event) => {
    const input = event.target as HTMLInputElement;
    const files = [...input.files ?? []];
    input.value = "";
    uploadAll(files.map((file) => ({ file, path: file.webkitRelativePath })));
  };
  byId("rows").addEventListener("click", (event) => {
    const target = (event.target as HTMLElement).closest<HTMLElement>(
      "[data-act]",
    );
    const name = target?.closest("tr")?.dataset.name;
    const entry = name === undefined ? undefined : entryOf(name);
    if (!target || !entry) return;
    if (target.dataset.act === "open" && previewable(entry)) {
      event.preventDefault();
      preview(entry).catch(showError);
    } else if (target.dataset.act === "menu") {
      openMenu(target, menuItems(entry), (act) => runAction(act, entry));
    }
  });
  byId("selection").addEventListener("click", (event) => {
    const act = (event.target as HTMLElement).closest<HTMLElement>(
      "[data-bulk]",
    )
      ?.dataset.bulk;
    const names = [...view.selected];
    if (act === "move") moveEntries(names).catch(showError);
    else if (act === "delete") deleteEntries(names).catch(showError);
    else if (act === "clear") {
      view.selected.clear();
      render();
    }
  });
  addEventListener("dragover", (event) => {
    event.preventDefault();
    if (!view.readOnly) document.body.classList.add("dragging");
  });
  addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) document.body.classList.remove("dragging");
  });
  addEventListener("drop", async (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    if (view.readOnly || !event.dataTransfer) return;
    const [items, folders] = await dropped(event.dataTransfer.items);
    await uploadAll(items, folders);
  });
}

crumbs();
wire();
load().catch(showError);
