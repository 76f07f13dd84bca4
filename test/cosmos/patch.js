// Patches the installed @vercel/cosmosdb-server 1.0.1 in place where it
// differs from Cosmos DB in ways the sink's tests would trip over. Run after
// every install (make node-install does); running it again changes nothing,
// because each edit leaves a marker and is skipped when the marker is there.
// An edit whose anchor text is missing fails loudly: the package changed and
// the edit must be reviewed, not silently skipped.
"use strict";
const fs = require("fs");
const path = require("path");

const lib = path.join(__dirname, "node_modules", "@vercel", "cosmosdb-server", "lib");

const edits = [
  {
    // Reading a missing document (or one under another partition key)
    // dereferences undefined and answers 500; Cosmos DB answers 404.
    file: "handler/read-document.js",
    marker: "sfconnect-patch:read-404",
    anchor: "const data = collection.document(docId, parsedPartitionKey).read();\n",
    insert:
      "        if (!data) { /* sfconnect-patch:read-404 */\n" +
      "            res.statusCode = 404;\n" +
      '            return { code: "NotFound", message: "Entity with the specified id does not exist in the system.," };\n' +
      "        }\n",
  },
  {
    // The partition key range id must be a string: the Go SDK fails to
    // decode a number (ReadManyItems, ReadFeedRanges).
    file: "account/collection.js",
    marker: "sfconnect-patch:pkrange-id",
    anchor: "                id: 0,\n",
    replace: '                id: "0", // sfconnect-patch:pkrange-id\n',
  },
  {
    // The Go SDK sends a batch's partition key only in the request header;
    // the server expects it on each operation.
    file: "handler/batch-documents.js",
    marker: "sfconnect-patch:batch-pk",
    anchor: "        const input = body[i];\n",
    insert:
      '        if (input && input.partitionKey === undefined && req.headers["x-ms-documentdb-partitionkey"]) { // sfconnect-patch:batch-pk\n' +
      '            input.partitionKey = req.headers["x-ms-documentdb-partitionkey"];\n' +
      "        }\n",
  },
  {
    // Batches may carry Patch operations; route them to the server's own
    // patch implementation.
    file: "handler/batch-documents.js",
    marker: "sfconnect-patch:batch-patch",
    anchor: "            default:\n                res.statusCode = 400;\n",
    before:
      "            case types_1.BulkOperationType.Patch: { // sfconnect-patch:batch-patch\n" +
      "                const rb = input.resourceBody || {};\n" +
      '                result = require("./_patch-operations").patchOperation(collection, {\n' +
      "                    id: input.id, partitionKey: input.partitionKey, ifMatch: input.ifMatch,\n" +
      "                    operations: Array.isArray(rb) ? rb : rb.operations, condition: Array.isArray(rb) ? undefined : rb.condition\n" +
      "                });\n" +
      "                break;\n" +
      "            }\n",
  },
];

let applied = 0;
for (const e of edits) {
  const file = path.join(lib, e.file);
  let src = fs.readFileSync(file, "utf8");
  if (src.includes(e.marker)) continue;
  const at = src.indexOf(e.anchor);
  if (at < 0) {
    console.error(`patch.js: anchor for ${e.marker} not found in ${e.file}: the package changed, review the edit`);
    process.exit(1);
  }
  if (e.replace !== undefined) {
    src = src.slice(0, at) + e.replace + src.slice(at + e.anchor.length);
  } else if (e.before !== undefined) {
    src = src.slice(0, at) + e.before + src.slice(at);
  } else {
    src = src.slice(0, at + e.anchor.length) + e.insert + src.slice(at + e.anchor.length);
  }
  fs.writeFileSync(file, src);
  applied++;
}
console.log(`patch.js: ${applied} of ${edits.length} edits applied (the rest were already in place)`);
