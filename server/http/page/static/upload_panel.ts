/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The uploads panel: a queue sent two files at a time, a line per file with
 * percent, rate and time left and a cancel button, and the same figures for
 * the whole batch with "Cancel all". Failed files stay listed with the reason
 * until dismissed.
 *
 * @module
 */

import { byId, h } from "./dom.ts";
import { progressText, RateMeter } from "./format.ts";
import { FileUpload, UploadCancelled } from "./upload.ts";

/** A file to send and where, relative to the page's folder. */
export interface UploadItem {
  file: File;
  path: string;
}

/** Files sent at the same time: enough to hide per-request latency. */
const LANES = 2;
/** How often the figures are redrawn. */
const REDRAW_MS = 400;

interface Job {
  upload: FileUpload;
  meter: RateMeter;
  row: HTMLLIElement;
  bar: HTMLProgressElement;
  status: HTMLElement;
  state: "waiting" | "sending" | "done" | "failed" | "cancelled";
}

/** The panel and its queue. */
export class UploadPanel {
  #jobs: Job[] = [];
  #queue: Job[] = [];
  #meter = new RateMeter();
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = 0;
  /** Bytes of this batch's finished files (their rows are gone). */
  #doneBytes = 0;
  #doneFiles = 0;
  #onBatchDone: () => void;

  /** @param onBatchDone called when the queue empties (to reload the listing). */
  constructor(onBatchDone: () => void) {
    this.#onBatchDone = onBatchDone;
    byId("cancel-all").onclick = () => this.cancelAll();
    byId("uploads-dismiss").onclick = () => this.#dismiss();
  }

  /** Queues files; `folderOf(path)` gives each one's folder URL. */
  add(items: UploadItem[], folderOf: (path: string) => string): void {
    for (const item of items) {
      const bar = h("progress", { max: 1, value: 0 });
      const status = h("span", { class: "status" }, "waiting");
      const cancel = h("button", {
        class: "cancel",
        type: "button",
        "aria-label": `Cancel the upload of ${item.path}`,
        title: "Cancel",
      }, "×");
      const row = h(
        "li",
        { class: "upload", "data-path": item.path },
        h("span", { class: "name", title: item.path }, item.path),
        cancel,
        bar,
        status,
      );
      const job: Job = {
        upload: new FileUpload(
          item.file,
          item.path,
          folderOf(item.path),
          () => {
            bar.value = item.file.size ? job.upload.sent / item.file.size : 1;
            job.meter.record(job.upload.sent);
            this.#meter.record(this.#sent());
          },
        ),
        meter: new RateMeter(),
        row,
        bar,
        status,
        state: "waiting",
      };
      cancel.onclick = () => this.#cancel(job);
      this.#jobs.push(job);
      this.#queue.push(job);
      byId("upload-list").append(row);
    }
    byId("uploads").hidden = false;
    this.#timer ??= setInterval(() => this.#redraw(), REDRAW_MS);
    this.#redraw();
    while (this.#running < LANES && this.#queue.length) this.#next();
  }

  /** Cancels every waiting and running upload. */
  cancelAll(): void {
    for (const job of [...this.#jobs]) this.#cancel(job);
  }

  #cancel(job: Job): void {
    if (job.state === "waiting") {
      this.#queue.splice(this.#queue.indexOf(job), 1);
      this.#finish(job, "cancelled");
    } else if (job.state === "sending") {
      job.upload.cancel();
    }
  }

  async #next(): Promise<void> {
    const job = this.#queue.shift();
    if (!job) return;
    this.#running++;
    job.state = "sending";
    try {
      await job.upload.run();
      this.#finish(job, "done");
    } catch (error) {
      if (error instanceof UploadCancelled) {
        this.#finish(job, "cancelled");
      } else {
        job.status.textContent = error instanceof Error
          ? error.message
          : String(error);
        this.#finish(job, "failed");
      }
    }
    this.#running--;
    if (this.#queue.length) return this.#next();
    if (this.#running === 0) this.#batchDone();
  }

  #finish(job: Job, state: Job["state"]): void {
    job.state = state;
    job.row.classList.add(state);
    job.row.querySelector("button.cancel")?.remove();
    if (state === "done") {
      this.#doneBytes += job.upload.file.size;
      this.#doneFiles++;
    }
    if (state === "done" || state === "cancelled") {
      job.row.remove();
      this.#jobs.splice(this.#jobs.indexOf(job), 1);
    }
    this.#redraw();
  }

  #batchDone(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#meter = new RateMeter();
    this.#doneBytes = 0;
    this.#doneFiles = 0;
    const failed = this.#jobs.filter((j) => j.state === "failed").length;
    if (failed === 0) {
      this.#jobs = [];
      byId("uploads").hidden = true;
    } else {
      byId("batch-title").textContent = `${failed} upload${
        failed === 1 ? "" : "s"
      } failed`;
      byId("batch-status").textContent = "";
      byId("batch-bar").hidden = true;
      byId("cancel-all").hidden = true;
      byId("uploads-dismiss").hidden = false;
    }
    this.#onBatchDone();
  }

  #dismiss(): void {
    for (const job of this.#jobs) job.row.remove();
    this.#jobs = [];
    byId("uploads").hidden = true;
  }

  #sent(): number {
    return this.#jobs.reduce((sum, j) => sum + j.upload.sent, this.#doneBytes);
  }

  #redraw(): void {
    const active = this.#jobs.filter((j) =>
      j.state === "waiting" || j.state === "sending"
    );
    if (active.length === 0) return;
    for (const job of active) {
      if (job.state === "sending") {
        job.status.textContent = progressText(
          job.upload.sent,
          job.upload.file.size,
          job.meter.rate,
        );
      }
    }
    const total = active.reduce(
      (sum, j) => sum + j.upload.file.size,
      this.#doneBytes,
    );
    const sent = active.reduce(
      (sum, j) => sum + j.upload.sent,
      this.#doneBytes,
    );
    const bar = byId<HTMLProgressElement>("batch-bar");
    bar.hidden = false;
    bar.value = total ? sent / total : 0;
    byId("cancel-all").hidden = false;
    byId("uploads-dismiss").hidden = true;
    const files = active.length + this.#doneFiles;
    byId("batch-title").textContent = `Uploading ${
      this.#doneFiles + 1
    } of ${files} file${files === 1 ? "" : "s"}`;
    byId("batch-status").textContent = progressText(
      sent,
      total,
      this.#meter.rate,
    );
  }
}
