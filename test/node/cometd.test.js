import { test } from "node:test";
import assert from "node:assert/strict";
import { adapt } from "cometd-nodejs-client";
import { env, admin, token, waitFor, unique } from "./sim.js";

adapt();
const { CometD } = await import("cometd");

// client builds a cometd client with the Salesforce replay extension that
// resubscribes, from the last replay id seen, after every handshake.
function client(channel, accessToken, seen) {
  const cometd = new CometD();
  cometd.unregisterTransport("websocket");
  const state = { replayFrom: -2, handshakes: 0, errors: [] };
  cometd.registerExtension("sfdc-replay", {
    outgoing: (m) => {
      if (m.channel === "/meta/subscribe") m.ext = { ...(m.ext || {}), replay: { [channel]: state.replayFrom } };
      return m;
    },
    incoming: (m) => {
      if (m.channel === channel && m.data?.event?.replayId) state.replayFrom = m.data.event.replayId;
      return m;
    },
  });
  cometd.configure({
    url: `${env.url}/cometd/${env.version}`,
    requestHeaders: { Authorization: `Bearer ${accessToken}` },
    appendMessageTypeToURL: false,
  });
  cometd.addListener("/meta/handshake", (h) => {
    if (!h.successful) return;
    state.handshakes++;
    cometd.subscribe(channel, (msg) => seen.push(msg), (s) => { if (!s.successful) state.errors.push(s.error); });
  });
  cometd.addListener("/meta/connect", (m) => { if (!m.successful && m.error) state.errors.push(m.error); });
  cometd.handshake();
  return { cometd, state };
}

test("cometd: handshake, subscribe with replay, reconnect after 403::Unknown client", async () => {
  const { access_token: accessToken } = await token();
  const channel = "/event/Order__e";
  const first = unique("order");
  await admin("POST", "/events/Order__e", { OrderNumber__c: first, Amount__c: 10 });

  const seen = [];
  const { cometd, state } = client(channel, accessToken, seen);
  // Replay -2: the event published before subscribing arrives.
  await waitFor("the retained event", () => seen.some((m) => m.data.payload.OrderNumber__c === first));
  assert.equal(state.handshakes, 1);
  const evt = seen.find((m) => m.data.payload.OrderNumber__c === first);
  assert.ok(evt.data.event.replayId > 0);
  assert.ok(evt.data.payload.CreatedDate);

  // The server forgets the session: the next connect is refused with
  // 403::Unknown client, the client handshakes again and resubscribes from
  // the last replay id it saw.
  await admin("POST", "/streams/drop");
  const second = unique("order");
  await admin("POST", "/events/Order__e", { OrderNumber__c: second, Amount__c: 20 });
  await waitFor("the event after the reconnect", () => seen.some((m) => m.data.payload.OrderNumber__c === second), 30000);
  assert.ok(state.handshakes >= 2, "the client handshook again");
  assert.ok(state.errors.some((e) => String(e).startsWith("403::Unknown client")), `errors seen: ${state.errors}`);
  assert.equal(seen.filter((m) => m.data.payload.OrderNumber__c === first).length, 1, "no event delivered twice");

  await new Promise((resolve) => cometd.disconnect(resolve));
});

test("cometd: an invalid replay id is refused verbatim", async () => {
  const { access_token: accessToken } = await token();
  const channel = "/event/Order__e";
  const cometd = new CometD();
  cometd.unregisterTransport("websocket");
  cometd.configure({ url: `${env.url}/cometd/${env.version}`, requestHeaders: { Authorization: `OAuth ${accessToken}` }, appendMessageTypeToURL: false });
  cometd.registerExtension("bad-replay", {
    outgoing: (m) => { if (m.channel === "/meta/subscribe") m.ext = { replay: { [channel]: 999999999 } }; return m; },
  });
  const reply = await new Promise((resolve) => {
    cometd.handshake((h) => {
      if (!h.successful) return resolve(h);
      cometd.subscribe(channel, () => {}, resolve);
    });
  });
  assert.equal(reply.successful, false);
  assert.equal(reply.error, "400::The replayId {999999999} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.");
  await new Promise((resolve) => cometd.disconnect(resolve));
});
