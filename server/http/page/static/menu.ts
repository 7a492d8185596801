/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The menu a row's "⋯" button opens: one button per row instead of four, so
 * a row fits a phone. The menu is placed inside the window (above the button
 * when there is no room below), the arrow keys move between its items, and
 * it closes on a click elsewhere, Escape, scrolling or resizing.
 *
 * @module
 */

import { h } from "./dom.ts";

/** One menu entry: an action, or a link (downloads). */
export interface MenuItem {
  label: string;
  act: string;
  href?: string;
  download?: boolean;
  danger?: boolean;
}

let close: (() => void) | null = null;

/** Opens the menu under `anchor`; `onPick` gets the chosen item's `act`. */
export function openMenu(
  anchor: HTMLElement,
  items: MenuItem[],
  onPick: (act: string) => void,
): void {
  close?.();
  const menu = h("div", { class: "menu", role: "menu" });
  for (const item of items) {
    const attrs = {
      role: "menuitem",
      "data-act": item.act,
      class: item.danger ? "danger" : undefined,
    };
    menu.append(
      item.href
        ? h(
          "a",
          { ...attrs, href: item.href, download: item.download },
          item.label,
        )
        : h("button", { ...attrs, type: "button" }, item.label),
    );
  }
  document.body.append(menu);
  const box = anchor.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const left = Math.max(8, Math.min(box.right - width, innerWidth - width - 8));
  const below = box.bottom + 4 + height <= innerHeight;
  menu.style.left = `${left}px`;
  menu.style.top = `${
    below ? box.bottom + 4 : Math.max(8, box.top - height - 4)
  }px`;
  anchor.setAttribute("aria-expanded", "true");
  const outside = (event: Event) => {
    if (!menu.contains(event.target as Node)) close?.();
  };
  const key = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      close?.();
      anchor.focus();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const entries = [
        ...menu.querySelectorAll<HTMLElement>("[role=menuitem]"),
      ];
      const at = entries.indexOf(document.activeElement as HTMLElement);
      const step = event.key === "ArrowDown" ? 1 : -1;
      entries.at((at + step) % entries.length)?.focus();
    }
  };
  close = () => {
    menu.remove();
    anchor.removeAttribute("aria-expanded");
    removeEventListener("pointerdown", outside, true);
    removeEventListener("keydown", key, true);
    removeEventListener("resize", closeMenu);
    removeEventListener("scroll", closeMenu, true);
    close = null;
  };
  addEventListener("pointerdown", outside, true);
  addEventListener("keydown", key, true);
  addEventListener("resize", closeMenu);
  addEventListener("scroll", closeMenu, true);
  menu.addEventListener("click", (event) => {
    const act = (event.target as HTMLElement).closest<HTMLElement>("[data-act]")
      ?.dataset.act;
    if (!act) return;
    close?.();
    onPick(act);
  });
  menu.querySelector<HTMLElement>("[role=menuitem]")?.focus();
}

/** Closes the open menu, if any. */
export function closeMenu(): void {
  close?.();
}
