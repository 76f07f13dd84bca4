// Shared helpers for the client tests: the simulator's address and
// credentials come from the environment set by the Go test that starts
// sfsim (salesforce/sfsim/nodeclients_test.go).
export const env = {
  url: need("SIM_URL"),
  grpc: need("SIM_GRPC"),
  clientId: need("SIM_CLIENT_ID"),
  clientSecret: need("SIM_CLIENT_SECRET"),
  username: need("SIM_USERNAME"),
  password: need("SIM_PASSWORD"),
  jwtKeyFile: need("SIM_JWT_KEY_FILE"),
  orgId: need("SIM_ORG_ID"),
  version: "62.0",
};

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through the Go harness`);
  return v;
}

// admin calls the simulator's control API.
export async function admin(method, path, body) {
  const res = await fetch(`${env.url}/sim${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} /sim${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

// token gets an access token with the client credentials grant.
export async function token() {
  const res = await fetch(`${env.url}/services/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: env.clientId, client_secret: env.clientSecret }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return res.json();
}

// waitFor polls cond until it is truthy or ms pass.
export async function waitFor(what, cond, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
