/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * In-page dialogs instead of `prompt()`, `confirm()` and `alert()`: a modal
 * `<dialog>` (focus stays inside, Escape cancels) that the page's colours
 * and the phone layout apply to, and that never blocks the page's script.
 *
 * @module
 */

import { h } from "./dom.ts";

/** One button of a dialog. */
export interface DialogButton {
  label: string;
  /** What {@linkcode openDialog} answers when it is pressed. */
  value: string;
  kind?: "primary" | "danger";
}

/** What a dialog shows. */
export interface DialogOptions {
  title: string;
  message?: string | Node;
  /** A text field, e.g. for a new name. */
  input?: { label: string; value: string; selectUntil?: number };
  /** The first one is the default (Enter); Cancel is added unless `noCancel`. */
  buttons: DialogButton[];
  noCancel?: boolean;
}

/** The button pressed (`"cancel"` for Escape) and the field's text. */
export interface DialogAnswer {
  button: string;
  value: string;
}

/** Shows a modal dialog and resolves when it closes. */
export function openDialog(options: DialogOptions): Promise<DialogAnswer> {
  const field = options.input
    ? h("input", {
      type: "text",
      value: options.input.value,
      "aria-label": options.input.label,
      autocomplete: "off",
      spellcheck: "false",
    })
    : null;
  const buttons = options.buttons.map((b, i) =>
    h("button", {
      value: b.value,
      class: b.kind ?? (i === 0 ? "primary" : ""),
    }, b.label)
  );
  if (!options.noCancel) {
    buttons.push(
      h("button", { value: "cancel", formnovalidate: true }, "Cancel"),
    );
  }
  const message = options.message === undefined
    ? ""
    : typeof options.message === "string"
    ? h("p", {}, options.message)
    : options.message;
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, options.title),
    message,
    field ? h("label", {}, options.input!.label, field) : "",
    h("div", { class: "buttons" }, ...buttons),
  );
  const dialog = h("dialog", { class: "fts-dialog" }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve({
        button: dialog.returnValue || "cancel",
        value: field?.value ?? "",
      });
    });
    dialog.showModal();
    if (field) {
      field.focus();
      field.setSelectionRange(
        0,
        options.input!.selectUntil ?? field.value.length,
      );
    } else {
      buttons[0].focus();
    }
  });
}

/** Asks a yes/no question; true when `ok` was pressed. */
export async function confirmDialog(
  title: string,
  message: string | Node,
  ok: string,
  danger = false,
): Promise<boolean> {
  const answer = await openDialog({
    title,
    message,
    buttons: [{ label: ok, value: "ok", kind: danger ? "danger" : "primary" }],
  });
  return answer.button === "ok";
}

/** Asks for a line of text; null when cancelled or left unchanged and empty. */
export async function promptDialog(
  title: string,
  label: string,
  value: string,
  ok: string,
  selectUntil?: number,
): Promise<string | null> {
  const answer = await openDialog({
    title,
    input: { label, value, selectUntil },
    buttons: [{ label: ok, value: "ok" }],
  });
  const text = answer.value.trim();
  return answer.button === "ok" && text !== "" ? text : null;
}

/** Tells something; resolves when dismissed. */
export async function tellDialog(
  title: string,
  message: string | Node,
): Promise<void> {
  await openDialog({
    title,
    message,
    buttons: [{ label: "OK", value: "ok" }],
    noCancel: true,
  });
}

/** Shows an error the page could not handle itself. */
export async function showError(error: unknown): Promise<void> {
  const text = error instanceof Error ? error.message : String(error);
  await tellDialog("That did not work", text);
}
