/**
 * SCRAM-SHA-256 login as message strings: a full round trip, wrong passwords,
 * unknown users that look like wrong passwords, a forged server signature,
 * and verifiers that keep no password.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import {
  AuthenticationError,
  createVerifier,
  escapeUsername,
  ScramClient,
  ScramProtocolError,
  ScramServer,
  type ScramVerifier,
  unescapeUsername,
} from "../protocol/scram.ts";

// Few iterations keep the tests fast; the protocol is the same.
const ITERATIONS = 4096;
const SECRET = new Uint8Array(32).fill(7);

function serverFor(
  users: Record<string, ScramVerifier>,
  secret: Uint8Array = SECRET,
): ScramServer {
  return new ScramServer((name) => users[name], {
    secret,
    fakeIterations: ITERATIONS,
  });
}

/** Runs a whole exchange; returns the server and what the client saw. */
async function login(
  users: Record<string, ScramVerifier>,
  name: string,
  password: string,
) {
  const server = serverFor(users);
  const client = new ScramClient(name, password);
  const serverFirst = await server.first(client.first());
  const clientFinal = await client.final(serverFirst);
  const serverFinal = await server.final(clientFinal);
  client.verify(serverFinal);
  return { server, serverFirst };
}

Deno.test("scram round trip succeeds with the right password", async () => {
  const users = { ann: await createVerifier("correct horse", ITERATIONS) };
  const { server } = await login(users, "ann", "correct horse");
  assertEquals(server.username, "ann");
});

Deno.test("scram client matches the RFC 7677 test vector", async () => {
  const client = new ScramClient("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  assertEquals(client.first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const clientFinal = await client.final(
    `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
  );
  assertEquals(
    clientFinal,
    `c=biws,r=${nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`,
  );
  client.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
});

Deno.test("scram messages have the RFC 5802 shape", async () => {
  const verifier = await createVerifier("pw", ITERATIONS);
  const server = new ScramServer(() => verifier, {
    secret: SECRET,
    nonce: "SERVERNONCE",
  });
  const client = new ScramClient("a,b=c", "pw", "CLIENTNONCE");
  assertEquals(client.first(), "n,,n=a=2Cb=3Dc,r=CLIENTNONCE");
  const serverFirst = await server.first(client.first());
  assertEquals(
    serverFirst,
    `r=CLIENTNONCESERVERNONCE,s=${verifier.salt},i=${ITERATIONS}`,
  );
  const clientFinal = await client.final(serverFirst);
  assertMatch(
    clientFinal,
    /^c=biws,r=CLIENTNONCESERVERNONCE,p=[A-Za-z0-9+/]+=*$/,
  );
  const serverFinal = await server.final(clientFinal);
  assertMatch(serverFinal, /^v=[A-Za-z0-9+/]+=*$/);
  client.verify(serverFinal);
  assertEquals(server.username, "a,b=c");
});

Deno.test("scram rejects a wrong password", async () => {
  const users = { ann: await createVerifier("correct horse", ITERATIONS) };
  const error = await assertRejects(
    () => login(users, "ann", "battery staple"),
    AuthenticationError,
  );
  assertEquals(error.message, "cannot log in: wrong user name or password");
});

Deno.test("scram rejects an unknown user with the same error as a wrong password", async () => {
  const users = { ann: await createVerifier("correct horse", ITERATIONS) };
  const wrongPassword = await assertRejects(
    () => login(users, "ann", "nope"),
    AuthenticationError,
  );
  const unknownUser = await assertRejects(
    () => login(users, "bob", "nope"),
    AuthenticationError,
  );
  assertEquals(unknownUser.message, wrongPassword.message);
});

Deno.test("scram gives an unknown user a stable, real-looking salt", async () => {
  const users = { ann: await createVerifier("pw", ITERATIONS) };
  const first = async (name: string, secret = SECRET) => {
    const server = serverFor(users, secret);
    const reply = await server.first(new ScramClient(name, "x").first());
    return Object.fromEntries(
      reply.split(",").map((part) => [part[0], part.slice(2)]),
    );
  };
  const bob1 = await first("bob");
  const bob2 = await first("bob");
  const carol = await first("carol");
  const ann = await first("ann");
  assertEquals(bob1.s, bob2.s);
  assertNotEquals(bob1.s, carol.s);
  assertEquals(bob1.i, ann.i);
  assertEquals(
    Uint8Array.fromBase64(bob1.s).length,
    Uint8Array.fromBase64(ann.s).length,
  );
  // Another server secret gives other made-up salts.
  const other = await first("bob", new Uint8Array(32).fill(9));
  assertNotEquals(other.s, bob1.s);
});

Deno.test("scram client rejects a tampered server signature", async () => {
  const users = { ann: await createVerifier("pw", ITERATIONS) };
  const server = serverFor(users);
  const client = new ScramClient("ann", "pw");
  const serverFinal = await server.final(
    await client.final(await server.first(client.first())),
  );
  const signature = Uint8Array.fromBase64(serverFinal.slice(2));
  signature[0] ^= 1;
  assertThrows(
    () => client.verify(`v=${signature.toBase64()}`),
    AuthenticationError,
    "wrong server signature",
  );
});

/**
 * The server-final message a server holding `verifier` sends for this
 * exchange: `v=` and HMAC(ServerKey, AuthMessage), as RFC 5802 says, computed
 * here apart from the code under test.
 */
async function serverFinalWith(
  verifier: ScramVerifier,
  clientFirst: string,
  serverFirst: string,
  clientFinal: string,
): Promise<string> {
  const bare = clientFirst.slice(clientFirst.indexOf(",", 2) + 1);
  const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(",p="));
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.fromBase64(verifier.serverKey),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`${bare},${serverFirst},${withoutProof}`),
  );
  return `v=${new Uint8Array(signature).toBase64()}`;
}

Deno.test("scram client rejects the signature an impostor that does not know the verifier sends", async () => {
  // An impostor answers with the real salt and signs with a key it made up.
  const real = await createVerifier("pw", ITERATIONS);
  const impostorVerifier = await createVerifier("other", ITERATIONS);
  const impostor = new ScramServer(
    () => ({ ...impostorVerifier, salt: real.salt }),
    { secret: SECRET },
  );
  const client = new ScramClient("ann", "pw");
  const clientFirst = client.first();
  const serverFirst = await impostor.first(clientFirst);
  const clientFinal = await client.final(serverFirst);
  // The impostor cannot check the proof …
  await assertRejects(() => impostor.final(clientFinal), AuthenticationError);
  // … and what it signs with its own key is refused, while the same
  // computation with the real key is accepted (so the refusal means it).
  const forged = await serverFinalWith(
    impostorVerifier,
    clientFirst,
    serverFirst,
    clientFinal,
  );
  assertThrows(() => client.verify(forged), AuthenticationError, "signature");
  client.verify(
    await serverFinalWith(real, clientFirst, serverFirst, clientFinal),
  );
  // An impostor that gives up and reports an error fails the login too.
  assertThrows(() => client.verify("e=invalid-proof"), AuthenticationError);
});

Deno.test("scram server rejects a replayed or reordered client-final", async () => {
  const users = { ann: await createVerifier("pw", ITERATIONS) };
  const server = serverFor(users);
  await assertRejects(
    () => server.final("c=biws,r=abc,p=AAAA"),
    ScramProtocolError,
  );
  const client = new ScramClient("ann", "pw");
  const clientFinal = await client.final(await server.first(client.first()));
  await server.final(clientFinal);
  await assertRejects(() => server.final(clientFinal), ScramProtocolError);
  // A second server with another nonce refuses the captured message.
  const other = serverFor(users);
  await other.first(client.first());
  await assertRejects(() => other.final(clientFinal), ScramProtocolError);
});

Deno.test("scram client refuses a server nonce that does not extend its own", async () => {
  const client = new ScramClient("ann", "pw", "MINE");
  await assertRejects(
    () => client.final(`r=THEIRS,s=AAAA,i=${ITERATIONS}`),
    ScramProtocolError,
    "nonce",
  );
  await assertRejects(
    () => client.final("r=MINEmore,s=AAAA,i=1"),
    ScramProtocolError,
    "iterations",
  );
});

Deno.test("scram verifier contains no password", async () => {
  const password = "s3cret-Password!";
  const verifier = await createVerifier(password, ITERATIONS);
  const text = JSON.stringify(verifier);
  assert(!text.includes(password));
  assert(!text.includes(btoa(password)));
  assertEquals(Object.keys(verifier).sort(), [
    "iterations",
    "salt",
    "serverKey",
    "storedKey",
  ]);
  assertEquals(Uint8Array.fromBase64(verifier.storedKey).length, 32);
  assertEquals(Uint8Array.fromBase64(verifier.serverKey).length, 32);
  // Fresh salt each time: the same password gives another verifier.
  const again = await createVerifier(password, ITERATIONS);
  assertNotEquals(again.salt, verifier.salt);
  assertNotEquals(again.storedKey, verifier.storedKey);
});

Deno.test("scram verifier defaults to 600,000 iterations", async () => {
  const verifier = await createVerifier("pw");
  assertEquals(verifier.iterations, 600_000);
  await assertRejects(() => createVerifier("pw", 10), RangeError);
});

Deno.test("scram user name escaping round-trips", () => {
  for (const name of ["plain", "a,b", "x=y", "=2C", ",=,", "ünï"]) {
    assertEquals(unescapeUsername(escapeUsername(name)), name);
  }
  assertEquals(escapeUsername("a=,"), "a=3D=2C");
  assertThrows(() => unescapeUsername("a=41"), ScramProtocolError);
});
