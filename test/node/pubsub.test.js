import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import PubSubApiClient from "salesforce-pubsub-api-client";
import { env, token, waitFor, unique } from "./sim.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function newClient(auth) {
  return new PubSubApiClient({ pubSubEndpoint: env.grpc, rejectUnauthorizedSsl: false, ...auth }, silent);
}

async function authModes() {
  const t = await token();
  return {
    "user-supplied": { authType: "user-supplied", accessToken: t.access_token, instanceUrl: t.instance_url, organizationId: env.orgId },
    "username-password": { authType: "username-password", loginUrl: env.url, username: env.username, password: env.password },
    "oauth-client-credentials": { authType: "oauth-client-credentials", loginUrl: env.url, clientId: env.clientId, clientSecret: env.clientSecret },
    "oauth-jwt-bearer": { authType: "oauth-jwt-bearer", loginUrl: env.url, clientId: env.clientId, username: env.username, privateKey: readFileSync(env.jwtKeyFile, "utf8") },
  };
}

// collect subscribes with subscribeFn and gathers events.
function collector() {
  const events = [];
  const errors = [];
  const cb = (sub, type, data) => {
    if (type === "event") events.push(data);
    if (type === "error") errors.push(data);
  };
  return { events, errors, cb };
}

// rest calls the REST API with a fresh token.
async function rest(method, path, body) {
  const t = await token();
  const res = await fetch(`${t.instance_url}/services/data/v${env.version}${path}`, {
    method, headers: { Authorization: `Bearer ${t.access_token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

test("pubsub: every auth mode connects and receives from EARLIEST", async () => {
  await rest("POST", "/sobjects/Account", { Name: unique("AuthModes") });
  for (const [mode, auth] of Object.entries(await authModes())) {
    const client = newClient(auth);
    await client.connect();
    const c = collector();
    client.subscribeFromEarliestEvent("/data/AccountChangeEvent", c.cb, 5);
    await waitFor(`an event with ${mode}`, () => c.events.length > 0);
    assert.equal(c.errors.length, 0, `${mode}: ${c.errors}`);
    assert.ok(c.events[0].payload.ChangeEventHeader, `${mode}: decoded change event`);
    client.close();
  }
});

test("pubsub: LATEST, CUSTOM replay and decoded changed and nulled fields", async () => {
  const auth = (await authModes())["oauth-client-credentials"];
  const client = newClient(auth);
  await client.connect();
  const name = unique("Fields");
  const { id } = await rest("POST", "/sobjects/Account", { Name: name, Description: "to be nulled", BillingCity: "Paris" });

  // LATEST: only what happens after subscribing.
  const latest = collector();
  client.subscribe("/data/AccountChangeEvent", latest.cb, 10);
  await new Promise((r) => setTimeout(r, 500));
  await rest("PATCH", `/sobjects/Account/${id}`, { BillingCity: "Lyon", Phone: "+33 1", Description: null });
  const upd = await waitFor("the update event", () => latest.events.find((e) => e.payload.ChangeEventHeader.changeType === "UPDATE" && e.payload.ChangeEventHeader.recordIds.includes(id)));
  assert.ok(!latest.events.some((e) => e.payload.ChangeEventHeader.changeType === "CREATE" && e.payload.ChangeEventHeader.recordIds.includes(id)), "LATEST must not replay the earlier create");
  const h = upd.payload.ChangeEventHeader;
  assert.deepEqual([...h.changedFields].sort(), ["BillingAddress.City", "Description", "LastModifiedDate", "Phone"]);
  assert.deepEqual([...h.nulledFields], ["Description"]);
  assert.equal(upd.payload.BillingAddress.City, "Lyon");

  client.close();

  // CUSTOM: resume after the update's replay id (a new client: the client
  // keeps one subscription per topic).
  await rest("PATCH", `/sobjects/Account/${id}`, { Rating: "Warm" });
  const resumed = newClient(auth);
  try {
    await resumed.connect();
    const custom = collector();
    resumed.subscribeFromReplayId("/data/AccountChangeEvent", custom.cb, 10, Number(upd.replayId));
    const next = await waitFor("the event after the replay id", () => custom.events.find((e) => e.payload.ChangeEventHeader.recordIds.includes(id)));
    assert.ok(Number(next.replayId) > Number(upd.replayId));
    assert.ok(!custom.events.some((e) => Number(e.replayId) <= Number(upd.replayId)), "nothing at or before the replay id");
    assert.deepEqual([...next.payload.ChangeEventHeader.changedFields].sort(), ["LastModifiedDate", "Rating"]);
  } finally {
    resumed.close();
  }
});

test("pubsub: publish a platform event and receive it", async () => {
  const auth = (await authModes())["oauth-client-credentials"];
  const client = newClient(auth);
  await client.connect();
  const c = collector();
  client.subscribe("/event/Order__e", c.cb, 10);
  await new Promise((r) => setTimeout(r, 500));
  const number = unique("PE");
  // The client encodes the payload as given: nullable fields are Avro
  // unions and take the branch-wrapped form.
  const result = await client.publish("/event/Order__e", {
    CreatedDate: Date.now(), CreatedById: "0058a00000SIMUSAA5",
    OrderNumber__c: { string: number }, Amount__c: { double: 42.5 },
  });
  assert.ok(result.replayId, "publish returned a replay id");
  const got = await waitFor("the published event", () => c.events.find((e) => e.payload.OrderNumber__c === number));
  assert.equal(got.payload.Amount__c, 42.5);
  client.close();
});
