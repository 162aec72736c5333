// Shared helpers for the node-opcua interop scripts. Each script prints one
// JSON line as its result and exits 1 on the first failed expectation.
"use strict";
const opcua = require("node-opcua");
const os = require("os");
const path = require("path");
const fs = require("fs");

function fail(msg, extra) {
  console.log(JSON.stringify({ ok: false, error: msg, ...(extra || {}) }));
  process.exit(1);
}

function expect(cond, msg, extra) {
  if (!cond) fail(msg, extra);
}

// newClient makes a node-opcua client with its own PKI folder that fails fast.
async function newClient(opts) {
  const pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), "tb-node-pki-"));
  const certificateManager = new opcua.OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true });
  const client = opcua.OPCUAClient.create({
    applicationName: "tagbridge-interop",
    applicationUri: "urn:tagbridge:interop:node-opcua",
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    securityMode: opcua.MessageSecurityMode.None,
    securityPolicy: opcua.SecurityPolicy.None,
    clientCertificateManager: certificateManager,
    requestedSessionTimeout: 60000,
    ...(opts || {}),
  });
  return client;
}

// browseAll walks the hierarchy from a node and returns every Variable under it.
async function browseAll(session, start, limit) {
  const out = [];
  const seen = new Set();
  const queue = [start];
  while (queue.length && out.length < (limit || 1e6)) {
    const nodeId = queue.shift();
    if (seen.has(nodeId)) continue;
    seen.add(nodeId);
    let res = await session.browse({
      nodeId, browseDirection: opcua.BrowseDirection.Forward,
      referenceTypeId: "HierarchicalReferences", includeSubtypes: true,
      nodeClassMask: 0, resultMask: 63,
    });
    const refs = [...(res.references || [])];
    let cp = res.continuationPoint;
    while (cp && cp.length) {
      const next = await session.browseNext(cp, false);
      refs.push(...(next.references || []));
      cp = next.continuationPoint;
    }
    for (const r of refs) {
      const id = r.nodeId.toString();
      if (r.nodeClass === opcua.NodeClass.Variable) out.push({ nodeId: id, name: r.browseName.name });
      if (r.nodeClass === opcua.NodeClass.Object) queue.push(id);
    }
  }
  return out;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

module.exports = { opcua, fail, expect, newClient, browseAll, sleep };
