/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * What the row menus and the selection bar do: rename, move, delete,
 * checksum, preview and zip downloads, each with an in-page dialog and
 * errors worded for people. Writes are the plain WebDAV requests (MOVE,
 * DELETE, MKCOL) any client sends.
 *
 * @module
 */

import { api, encodePath, here, PageError, send, urlOf } from "./api.ts";
import {
  confirmDialog,
  openDialog,
  promptDialog,
  showError,
  tellDialog,
} from "./dialogs.ts";
import { h } from "./dom.ts";
import { type Entry, IMAGE, TEXT, view } from "./listing.ts";
import type { MenuItem } from "./menu.ts";

let reload: () => Promise<void> = () => Promise.resolve();

/** Sets what runs after a change (the listing's reload). */
export function afterChanges(fn: () => Promise<void>): void {
  reload = fn;
}

/** The items of a row's menu. */
export function menuItems(entry: Entry): MenuItem[] {
  const dir = entry.type === "dir";
  const url = urlOf(entry.name, dir);
  const items: MenuItem[] = dir
    ? [
      { label: "Open", act: "open", href: url },
      {
        label: "Download as zip",
        act: "zip",
        href: `${url}?zip`,
        download: true,
      },
    ]
    : [
      { label: "Download", act: "download", href: url, download: true },
      { label: "Show SHA-256", act: "sum" },
    ];
  if (!view.readOnly) {
    items.push(
      { label: "Rename…", act: "rename" },
      { label: "Move to…", act: "move" },
      { label: "Delete…", act: "delete", danger: true },
    );
  }
  return items;
}

/** Runs a row menu's choice. */
export async function runAction(act: string, entry: Entry): Promise<void> {
  try {
    if (act === "sum") await showChecksum(entry);
    else if (act === "rename") await rename(entry);
    else if (act === "move") await moveEntries([entry.name]);
    else if (act === "delete") await deleteEntries([entry.name]);
  } catch (error) {
    await showError(error);
  }
}

/** The URL path of `target` (relative to this folder, or from the root with `/`). */
function destination(target: string): string {
  const base = new URL(here, location.origin);
  return new URL(encodePath(target), base).pathname;
}

function quoteList(names: string[]): string {
  const shown = names.slice(0, 4).map((n) => `“${n}”`).join(", ");
  return names.length > 4 ? `${shown} and ${names.length - 4} more` : shown;
}

async function rename(entry: Entry): Promise<void> {
  const dot = entry.type === "dir" ? -1 : entry.name.lastIndexOf(".");
  const to = await promptDialog(
    `Rename “${entry.name}”`,
    "New name",
    entry.name,
    "Rename",
    dot > 0 ? dot : undefined,
  );
  if (to === null || to === entry.name) return;
  await send(
    `rename “${entry.name}”`,
    () =>
      api(urlOf(entry.name, entry.type === "dir"), {
        method: "MOVE",
        headers: {
          destination: destination(to) + (entry.type === "dir" ? "/" : ""),
          overwrite: "F",
        },
      }),
  );
  await reload();
}

/**
 * Runs `request` for each name (unselecting those that worked), reloads,
 * then tells what failed, if anything.
 */
async function forEachName(
  names: string[],
  done: string,
  request: (name: string) => Promise<Response>,
): Promise<void> {
  const failures: string[] = [];
  for (const name of names) {
    try {
      await request(name);
      view.selected.delete(name);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  await reload();
  if (failures.length) {
    await tellDialog(`Some items were not ${done}`, failures.join("\n"));
  }
}

/** Asks for a folder and moves `names` there (never replacing anything). */
export async function moveEntries(names: string[]): Promise<void> {
  const folder = await promptDialog(
    `Move ${names.length === 1 ? `“${names[0]}”` : `${names.length} items`}`,
    "To folder (inside this one, or from the top with /)",
    "",
    "Move",
  );
  if (folder === null) return;
  const target = folder.endsWith("/") ? folder : `${folder}/`;
  await forEachName(names, "moved", (name) => {
    const dir = view.entries.find((e) => e.name === name)?.type === "dir";
    return send(`move “${name}”`, () =>
      api(urlOf(name, dir), {
        method: "MOVE",
        headers: {
          destination: destination(target + name) + (dir ? "/" : ""),
          overwrite: "F",
        },
      }));
  });
}

/** Asks, then deletes `names` (folders with everything in them). */
export async function deleteEntries(names: string[]): Promise<void> {
  const folders = names.filter((n) =>
    view.entries.find((e) => e.name === n)?.type === "dir"
  );
  const ok = await confirmDialog(
    names.length === 1
      ? `Delete “${names[0]}”?`
      : `Delete ${names.length} items?`,
    `${quoteList(names)}${
      folders.length ? ", with everything in the folders," : ""
    } will be deleted. This cannot be undone.`,
    "Delete",
    true,
  );
  if (!ok) return;
  await forEachName(
    names,
    "deleted",
    (name) =>
      send(`delete “${name}”`, () => api(urlOf(name), { method: "DELETE" })),
  );
}

async function showChecksum(entry: Entry): Promise<void> {
  const r = await send(
    `hash “${entry.name}”`,
    () => api(`${urlOf(entry.name)}?sha256`),
  );
  const { sha256 } = await r.json() as { sha256: string };
  await tellDialog(
    `SHA-256 of “${entry.name}”`,
    h("code", { class: "sum" }, sha256),
  );
}

/** Asks for a name and creates the folder. */
export async function makeFolder(): Promise<void> {
  const name = await promptDialog("New folder", "Name", "", "Create");
  if (name === null) return;
  try {
    await send(
      `create the folder “${name}”`,
      () => api(urlOf(name, true), { method: "MKCOL" }),
    );
    await reload();
  } catch (error) {
    await showError(error);
  }
}

/** Whether the page shows `entry` itself instead of downloading it. */
export function previewable(entry: Entry): boolean {
  return entry.type !== "dir" &&
    (IMAGE.test(entry.name) || TEXT.test(entry.name));
}

/** Shows an image, or the first 256 KiB of a text file, in a dialog. */
export async function preview(entry: Entry): Promise<void> {
  const url = urlOf(entry.name);
  let body: Node;
  if (IMAGE.test(entry.name)) {
    body = h("img", { alt: entry.name, src: url, class: "preview" });
  } else {
    const r = await api(url, { headers: { range: "bytes=0-262143" } });
    if (!r.ok) throw new PageError(`Cannot show “${entry.name}”.`, r.status);
    body = h("pre", { class: "preview" }, await r.text());
  }
  const answer = await openDialog({
    title: entry.name,
    message: body,
    buttons: [
      { label: "Close", value: "close" },
      { label: "Download", value: "download" },
    ],
    noCancel: true,
  });
  if (answer.button === "download") {
    const link = h("a", { href: url, download: entry.name });
    document.body.append(link);
    link.click();
    link.remove();
  }
}
