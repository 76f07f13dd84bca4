// Starts the patched Cosmos DB stand-in for the sink's tests: HTTPS with the
// certificate and key the test generated (so the client verifies TLS against
// the test's own CA), keep-alive on (the CLI cannot set it, and closing every
// connection triples the cost of each request), on 127.0.0.1 only.
//
// Usage: node server.js <port, 0 for any> <cert.pem> <key.pem>
// Prints "listening <port>" once it accepts connections; exits when its
// stdin closes, so a test that dies does not leave it running.
"use strict";
const fs = require("fs");
const { createHttpsServer } = require("@vercel/cosmosdb-server");

const [port, certFile, keyFile] = process.argv.slice(2);
if (port === undefined || !certFile || !keyFile) {
  console.error("usage: node server.js <port> <cert.pem> <key.pem>");
  process.exit(2);
}
const server = createHttpsServer({
  keepAlive: true,
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
});
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
