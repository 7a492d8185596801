/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The login form: SCRAM-SHA-256 in the browser with the very
 * {@linkcode ScramClient} the command line uses, so the password never
 * leaves the page and the server proves it knows the verifier.
 *
 * @module
 */

import "./base64_polyfill.ts";
import { ScramClient } from "../../../../protocol/scram.ts";
import { api, explain, here } from "./api.ts";
import { byId } from "./dom.ts";

async function post(body: Record<string, string>): Promise<Response> {
  const response = await api(`${here}?login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const text = (await response.text()).trim();
    throw new Error(
      response.status === 401 ? "Wrong user name or password." : explain(
        response.status,
        text,
      ),
    );
  }
  return response;
}

/** Logs in; resolves once the server proved itself, rejects with a sentence. */
export async function scramLogin(
  name: string,
  password: string,
): Promise<void> {
  const client = new ScramClient(name, password);
  const first = await (await post({ step: "first", data: client.first() }))
    .json() as { id: string; data: string };
  const proof = await client.final(first.data);
  const last = await (await post({ step: "final", id: first.id, data: proof }))
    .json() as { data: string };
  client.verify(last.data);
}

/** Shows the login form instead of the folder; a login reloads the page. */
export function showLogin(): void {
  const form = byId<HTMLFormElement>("login");
  form.hidden = false;
  byId("app").hidden = true;
  byId("login-name").focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const error = byId("login-error");
    const go = byId<HTMLButtonElement>("login-go");
    error.textContent = "";
    go.disabled = true;
    try {
      await scramLogin(
        byId<HTMLInputElement>("login-name").value,
        byId<HTMLInputElement>("login-password").value,
      );
      location.reload();
    } catch (e) {
      error.textContent = (e instanceof Error ? e.message : String(e))
        .replace(/^cannot log in: /, "");
    } finally {
      go.disabled = false;
    }
  };
}

/** Ends the session and shows the login form again. */
export async function logout(): Promise<void> {
  await api(`${here}?logout`, { method: "POST" });
  location.reload();
}
