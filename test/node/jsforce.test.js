import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { env, admin, waitFor, unique } from "./sim.js";

const require = createRequire(import.meta.url);
const jsforce = require("jsforce");
const { StreamingExtension } = require("jsforce/api/streaming");

async function oauthConnection() {
  const conn = new jsforce.Connection({
    oauth2: { loginUrl: env.url, clientId: env.clientId, clientSecret: env.clientSecret },
    version: env.version,
  });
  await conn.login(env.username, env.password);
  return conn;
}

test("jsforce: OAuth password login and SOAP login", async () => {
  const conn = await oauthConnection();
  assert.match(conn.accessToken, /^00D\w{12}!/);
  assert.equal(conn.userInfo.organizationId, env.orgId);
  assert.equal(conn.instanceUrl, env.url);

  const soap = new jsforce.Connection({ loginUrl: env.url, version: env.version });
  const info = await soap.login(env.username, env.password);
  assert.equal(info.organizationId, env.orgId);
  assert.ok(soap.accessToken);
  const res = await soap.query("SELECT Id FROM Account LIMIT 1");
  assert.equal(typeof res.totalSize, "number");
});

test("jsforce: create, retrieve, update, delete", async () => {
  const conn = await oauthConnection();
  const name = unique("Crud");
  const created = await conn.sobject("Account").create({ Name: name, BillingCity: "Paris", NumberOfEmployees: 12 });
  assert.equal(created.success, true);
  const rec = await conn.sobject("Account").retrieve(created.id);
  assert.equal(rec.Name, name);
  assert.equal(rec.BillingCity, "Paris");
  assert.equal(rec.attributes.type, "Account");

  const upd = await conn.sobject("Account").update({ Id: created.id, BillingCity: "Lyon" });
  assert.equal(upd.success, true);
  assert.equal((await conn.sobject("Account").retrieve(created.id)).BillingCity, "Lyon");

  await assert.rejects(conn.sobject("Account").create({ Phone: "1" }), (err) => err.errorCode === "REQUIRED_FIELD_MISSING");

  const del = await conn.sobject("Account").destroy(created.id);
  assert.equal(del.success, true);
  await assert.rejects(conn.sobject("Account").retrieve(created.id));
});

test("jsforce: upsert by external id", async () => {
  const conn = await oauthConnection();
  const ext = unique("ext");
  const first = await conn.sobject("Account").upsert({ Name: "Upsert one", External_Id__c: ext }, "External_Id__c");
  assert.equal(first.success, true);
  assert.equal(first.created, true);
  const second = await conn.sobject("Account").upsert({ Name: "Upsert two", External_Id__c: ext }, "External_Id__c");
  assert.equal(second.success, true);
  assert.notEqual(second.created, true);
  const rows = await conn.query(`SELECT Id, Name FROM Account WHERE External_Id__c = '${ext}'`);
  assert.equal(rows.totalSize, 1);
  assert.equal(rows.records[0].Name, "Upsert two");

  const many = [1, 2, 3].map((i) => ({ Name: `Bulk upsert ${i}`, External_Id__c: `${ext}-${i}` }));
  const results = await conn.sobject("Account").upsert(many, "External_Id__c");
  assert.equal(results.length, 3);
  assert.ok(results.every((r) => r.success && r.created));
});

test("jsforce: sObject collections and query with paging", async () => {
  const conn = await oauthConnection();
  const tag = unique("Page");
  const records = Array.from({ length: 2500 }, (_, i) => ({ Name: `${tag} ${i}`, Site: tag }));
  const created = await conn.sobject("Account").create(records, { allowRecursive: true });
  assert.equal(created.length, 2500);
  assert.ok(created.every((r) => r.success));

  const updated = await conn.sobject("Account").update(created.slice(0, 300).map((r) => ({ Id: r.id, Rating: "Hot" })), { allowRecursive: true });
  assert.ok(updated.every((r) => r.success));

  let pages = 0;
  const first = await conn.query(`SELECT Id, Name, Rating FROM Account WHERE Site = '${tag}' ORDER BY Name`);
  pages++;
  assert.equal(first.totalSize, 2500);
  assert.equal(first.done, false);
  assert.ok(first.nextRecordsUrl);
  const all = [...first.records];
  let cur = first;
  while (!cur.done) {
    cur = await conn.queryMore(cur.nextRecordsUrl);
    pages++;
    all.push(...cur.records);
  }
  assert.equal(all.length, 2500);
  assert.ok(pages >= 2);
  assert.equal(new Set(all.map((r) => r.Id)).size, 2500);
  assert.equal(all.filter((r) => r.Rating === "Hot").length, 300);

  const removed = await conn.sobject("Account").destroy(created.slice(0, 10).map((r) => r.id));
  assert.ok(removed.every((r) => r.success));
});

test("jsforce: streaming with replay resumes after a disconnect", async () => {
  const conn = await oauthConnection();
  const channel = "/data/AccountChangeEvent";
  const seen = [];
  const listen = (replayFrom) => {
    const client = conn.streaming.createClient([new StreamingExtension.Replay(channel, replayFrom)]);
    client.subscribe(channel, (msg) => seen.push(msg));
    return client;
  };
  const tagA = unique("StreamA");
  let client = listen(-1);
  await new Promise((r) => setTimeout(r, 500)); // let the subscription register
  await conn.sobject("Account").create({ Name: tagA });
  const got = await waitFor("the event of a record created while subscribed", () =>
    seen.find((m) => m.payload?.Name === tagA));
  const replayId = got.event.replayId;
  assert.equal(got.payload.ChangeEventHeader.changeType, "CREATE");
  client.disconnect();

  // Created while nobody listens.
  const tagB = unique("StreamB");
  await conn.sobject("Account").create({ Name: tagB });
  await conn.sobject("Account").create({ Name: tagB + "-2" });

  seen.length = 0;
  client = listen(replayId);
  await waitFor("events created while disconnected", () =>
    seen.some((m) => m.payload?.Name === tagB) && seen.some((m) => m.payload?.Name === tagB + "-2"));
  assert.ok(!seen.some((m) => m.payload?.Name === tagA), "the event at the stored replay id is not delivered again");
  assert.ok(seen.every((m) => m.event.replayId > replayId));
  client.disconnect();
});

test("jsforce: PushTopic streaming", async () => {
  const conn = await oauthConnection();
  const name = unique("Topic").replace(/-/g, "_");
  await conn.sobject("PushTopic").create({
    Name: name, Query: "SELECT Id, Name, Industry FROM Account WHERE Industry = 'Energy'", ApiVersion: 62.0,
    NotifyForOperationCreate: true, NotifyForOperationUpdate: true, NotifyForFields: "Referenced",
  });
  const seen = [];
  const client = conn.streaming.createClient([new StreamingExtension.Replay(`/topic/${name}`, -1)]);
  client.subscribe(`/topic/${name}`, (msg) => seen.push(msg));
  await new Promise((r) => setTimeout(r, 500));
  const tag = unique("Energy");
  await conn.sobject("Account").create({ Name: tag, Industry: "Energy" });
  await conn.sobject("Account").create({ Name: tag + "-other", Industry: "Retail" });
  const got = await waitFor("the PushTopic event", () => seen.find((m) => m.sobject?.Name === tag));
  assert.equal(got.event.type, "created");
  assert.ok(!seen.some((m) => m.sobject?.Name === tag + "-other"));
  client.disconnect();
});

test("jsforce: daily API limit gives REQUEST_LIMIT_EXCEEDED", async () => {
  const conn = await oauthConnection();
  const before = await admin("GET", "/budget");
  await admin("PUT", "/budget", { used: before.limit, limit: before.limit });
  try {
    await assert.rejects(conn.query("SELECT Id FROM Account LIMIT 1"), (err) => err.errorCode === "REQUEST_LIMIT_EXCEEDED");
  } finally {
    await admin("PUT", "/budget", { used: 0, limit: before.limit });
  }
});
