/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The folder's table: sorting by a column (on a phone, where only the name
 * column shows, by a "Sort by" list), the filter box, the selection
 * (checkboxes and "select all") and one actions button per row. On a phone
 * the size and time move under the name (CSS), so the row stays one screen
 * wide.
 *
 * @module
 */

import { here, urlOf } from "./api.ts";
import { byId, h, icon } from "./dom.ts";
import { formatDate, formatSize } from "./format.ts";

/** One entry of the folder, as `?json` lists it. */
export interface Entry {
  name: string;
  type: string;
  size: number;
  mtime: number;
}

type SortKey = "name" | "size" | "mtime";

/** What the table shows. */
export const view = {
  entries: [] as Entry[],
  readOnly: false,
  sortKey: "name" as SortKey,
  sortDir: 1,
  filter: "",
  selected: new Set<string>(),
};

const FOLDER =
  "M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z";
const FILE =
  "M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V8h4.5z";
/** Files the page can show itself (the preview). */
export const IMAGE = /\.(png|jpe?g|gif|webp|svg|avif)$/i;
export const TEXT =
  /\.(txt|md|log|csv|json|xml|ya?ml|toml|ini|sh|py|js|ts|c|h|go|rs|html?|css)$/i;
const ARCHIVE = /\.(zip|gz|tar|xz|7z|zst|bz2)$/i;

function kindOf(entry: Entry): string {
  if (entry.type === "dir") return "folder";
  if (IMAGE.test(entry.name)) return "image";
  if (ARCHIVE.test(entry.name)) return "archive";
  return "file";
}

/** The entries that pass the filter, folders first, in the chosen order. */
export function visibleEntries(): Entry[] {
  const needle = view.filter.toLocaleLowerCase();
  const key = view.sortKey;
  return view.entries
    .filter((e) => e.name.toLocaleLowerCase().includes(needle))
    .sort((a, b) => {
      const dirs = Number(b.type === "dir") - Number(a.type === "dir");
      if (dirs !== 0) return dirs;
      const order = key === "name"
        ? a.name.localeCompare(b.name, undefined, { numeric: true })
        : a[key] - b[key];
      return order * view.sortDir;
    });
}

function row(entry: Entry): HTMLTableRowElement {
  const dir = entry.type === "dir";
  const size = dir ? "" : formatSize(entry.size);
  const date = formatDate(entry.mtime);
  return h(
    "tr",
    { "data-name": entry.name, "data-dir": String(dir) },
    h(
      "td",
      { class: "check" },
      // The label makes the whole cell the touch target, not 17 px.
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          "aria-label": `Select ${entry.name}`,
          checked: view.selected.has(entry.name),
        }),
      ),
    ),
    h(
      "td",
      { class: "name" },
      h(
        "a",
        { href: urlOf(entry.name, dir), "data-act": "open", title: entry.name },
        icon(dir ? FOLDER : FILE, kindOf(entry)),
        h("span", {}, entry.name),
      ),
      h("span", { class: "meta" }, dir ? date : `${size} · ${date}`),
    ),
    h("td", { class: "size" }, size),
    h("td", { class: "time" }, date),
    h(
      "td",
      { class: "more" },
      h("button", {
        type: "button",
        class: "more",
        "data-act": "menu",
        "aria-label": `Actions for ${entry.name}`,
        "aria-haspopup": "menu",
        title: "Actions",
      }, "⋯"),
    ),
  );
}

/** Redraws the table and the selection bar. */
export function render(): void {
  const shown = visibleEntries();
  for (const th of document.querySelectorAll<HTMLElement>("th[data-key]")) {
    const active = th.dataset.key === view.sortKey;
    th.setAttribute(
      "aria-sort",
      active ? (view.sortDir > 0 ? "ascending" : "descending") : "none",
    );
  }
  byId<HTMLSelectElement>("sort").value = `${view.sortKey}:${view.sortDir}`;
  const rows = shown.map(row);
  if (rows.length === 0) {
    const text = view.filter
      ? `No name here contains “${view.filter}”.`
      : `This folder is empty${
        view.readOnly ? "." : " — drop files here or use Upload."
      }`;
    rows.push(h("tr", {}, h("td", { colspan: 5, class: "empty" }, text)));
  }
  byId("rows").replaceChildren(...rows);
  renderSelection(shown);
}

function renderSelection(shown: Entry[]): void {
  for (const name of view.selected) {
    if (!view.entries.some((e) => e.name === name)) view.selected.delete(name);
  }
  const count = view.selected.size;
  byId("selection").hidden = count === 0;
  byId("selected-count").textContent = `${count} selected`;
  const names = [...view.selected].map((n) => `name=${encodeURIComponent(n)}`);
  byId<HTMLAnchorElement>("zip-selection").href = `${here}?zip&${
    names.join("&")
  }`;
  const all = byId<HTMLInputElement>("select-all");
  const picked = shown.filter((e) => view.selected.has(e.name)).length;
  all.checked = shown.length > 0 && picked === shown.length;
  all.indeterminate = picked > 0 && picked < shown.length;
}

/** The entry a row stands for. */
export function entryOf(name: string): Entry | undefined {
  return view.entries.find((e) => e.name === name);
}

/** Wires sorting, the filter and the checkboxes. */
export function setupListing(): void {
  document.querySelector("thead")!.addEventListener("click", (event) => {
    const target = event.target as HTMLElement;
    const th = target.closest<HTMLElement>("th[data-key]");
    if (!th || target.closest("select")) return;
    const key = th.dataset.key as SortKey;
    view.sortDir = key === view.sortKey ? -view.sortDir : 1;
    view.sortKey = key;
    render();
  });
  byId<HTMLSelectElement>("sort").addEventListener("change", (event) => {
    const [key, dir] = (event.target as HTMLSelectElement).value.split(":");
    view.sortKey = key as SortKey;
    view.sortDir = Number(dir);
    render();
  });
  byId<HTMLInputElement>("filter").addEventListener("input", (event) => {
    view.filter = (event.target as HTMLInputElement).value;
    render();
  });
  byId("select-all").addEventListener("change", (event) => {
    const on = (event.target as HTMLInputElement).checked;
    for (const e of visibleEntries()) {
      if (on) view.selected.add(e.name);
      else view.selected.delete(e.name);
    }
    render();
  });
  byId("rows").addEventListener("change", (event) => {
    const box = event.target as HTMLInputElement;
    const name = box.closest("tr")?.dataset.name;
    if (box.type !== "checkbox" || name === undefined) return;
    if (box.checked) view.selected.add(name);
    else view.selected.delete(name);
    renderSelection(visibleEntries());
  });
}
