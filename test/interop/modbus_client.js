// modbus_client.js ENDPOINT SPEC_JSON: reads (and writes) Modbus tags served by
// tagbridge with node-opcua and prints what it saw as one JSON line; the Go
// test (modbus_test.go) asserts the values.
// SPEC_JSON: {"namespace": "urn:...", "paths": ["Folder/Tag", ...],
//             "good": ["Folder/Tag", ...],       // wait until these are Good
//             "user": "name", "password": "pw",  // for the writes
//             "writes": [{"path": "...", "dataType": "Float", "value": 42.5}]}
// Result: {"ok": true, "read": {path: {value, status, source, server}},
//          "writes": {path: status}, "after": {path: {...}}}
"use strict";
const { opcua, fail, expect, newClient, sleep } = require("./common");

function show(dv) {
  let v = dv.value ? dv.value.value : null;
  if (v !== null && typeof v === "object" && !Array.isArray(v)) v = String(v);
  return {
    value: v,
    status: dv.statusCode.name,
    source: dv.sourceTimestamp ? dv.sourceTimestamp.toISOString() : null,
    server: dv.serverTimestamp ? dv.serverTimestamp.toISOString() : null,
  };
}

// readUntil reads paths every 200 ms until done(results) or 15 s.
async function readUntil(session, ids, paths, done) {
  let out = {};
  const deadline = Date.now() + 15000;
  for (;;) {
    const dvs = await session.read(ids.map((nodeId) => ({ nodeId, attributeId: opcua.AttributeIds.Value })),
      opcua.TimestampsToReturn.Both);
    out = {};
    paths.forEach((p, i) => { out[p] = show(dvs[i]); });
    if (done(out) || Date.now() > deadline) return out;
    await sleep(200);
  }
}

async function main() {
  const [endpoint, specJSON] = process.argv.slice(2);
  const spec = JSON.parse(specJSON);
  const client = await newClient();
  await client.connect(endpoint);
  const result = { ok: true };

  const session = await client.createSession();
  const nsArray = await session.readNamespaceArray();
  const ns = nsArray.indexOf(spec.namespace);
  expect(ns > 0, `namespace ${spec.namespace} not in ${JSON.stringify(nsArray)}`);
  const id = (p) => `ns=${ns};s=${p}`;
  const ids = spec.paths.map(id);

  // Wait for the first scans: nothing waiting for initial data, the good
  // tags Good (the Go test asserts the rest).
  result.read = await readUntil(session, ids, spec.paths, (r) =>
    Object.values(r).every((v) => v.status !== "BadWaitingForInitialData") &&
    (spec.good || []).every((p) => r[p].status === "Good"));

  if (spec.writes && spec.writes.length) {
    const wsession = await client.createSession({ type: opcua.UserTokenType.UserName, userName: spec.user, password: spec.password });
    result.writes = {};
    for (const w of spec.writes) {
      const st = await wsession.write({ nodeId: id(w.path), attributeId: opcua.AttributeIds.Value,
        value: { value: { dataType: opcua.DataType[w.dataType], value: w.value } } });
      result.writes[w.path] = st.name;
    }
    const paths = spec.writes.map((w) => w.path);
    result.after = await readUntil(wsession, paths.map(id), paths, (r) =>
      spec.writes.every((w) => r[w.path].status === "Good" && r[w.path].value === w.value));
    await wsession.close();
  }
  await session.close();
  await client.disconnect();
  console.log(JSON.stringify(result));
  // Exit now: node-opcua may still print warnings from background work, and
  // the harness takes the last stdout line as the result.
  process.exit(0);
}

main().catch((e) => fail(String(e && e.stack || e)));
