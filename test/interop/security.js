// security.js STEP ENDPOINT [CLIENT_PKI_DIR]: the secure parts of the OPC UA
// server, driven by node-opcua against the real binary. security_test.go
// runs the steps in order and moves certificates between them.
//
//   endpoints  7 endpoints (None + 3 policies x Sign/SignAndEncrypt), no
//              Basic128Rsa15/Basic256, each with the server certificate; the
//              UserName token of the None endpoint is encrypted
//   reject     SignAndEncrypt with a client certificate the server does not
//              trust yet: refused
//   secure     Basic256Sha256 and Aes256_Sha256_RsaPss SignAndEncrypt: the
//              operator's write is confirmed, the viewer's refused
//              (BadUserAccessDenied); a password on the None endpoint too
//   load       browse + browseNext of the 10,001-child folder Big, a
//              10,000-value Read, a subscription with 10,000 items,
//              deadband absolute and percent, delete subscription under load
//   locked     (security without none, anonymous off) None refused,
//              anonymous refused, the operator gets in
"use strict";
const { opcua, fail, expect, newClient, sleep } = require("./common");

const NS = "ns=1;s=";
const P = opcua.SecurityPolicy;
const M = opcua.MessageSecurityMode;

function certManager(dir) {
  return new opcua.OPCUACertificateManager({ rootFolder: dir, automaticallyAcceptUnknownCertificate: true });
}

async function clientFor(pkiDir, policy, mode) {
  const opts = { securityPolicy: policy, securityMode: mode };
  if (pkiDir) opts.clientCertificateManager = certManager(pkiDir);
  return newClient(opts);
}

const user = (name) => ({ type: opcua.UserTokenType.UserName, userName: name, password: name });

async function withSession(endpoint, pkiDir, policy, mode, identity, fn) {
  const client = await clientFor(pkiDir, policy, mode);
  await client.connect(endpoint);
  try {
    const session = await client.createSession(identity);
    try {
      return await fn(session);
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await client.disconnect();
  }
}

async function refused(fn) {
  try {
    await fn();
  } catch (err) {
    return err.message || String(err);
  }
  return null;
}

async function writeSetpoint(session, v) {
  return session.write({ nodeId: NS + "Sec/Setpoint", attributeId: opcua.AttributeIds.Value,
    value: { value: { dataType: opcua.DataType.Double, value: v } } });
}

async function endpoints(endpoint) {
  const client = await newClient();
  await client.connect(endpoint);
  const eps = await client.getEndpoints();
  await client.disconnect();
  const names = eps.map((e) => `${e.securityPolicyUri.split("#")[1]}/${M[e.securityMode]}`);
  expect(eps.length === 7, `got ${eps.length} endpoints, want 7`, { names });
  for (const e of eps) {
    const p = e.securityPolicyUri.split("#")[1];
    expect(p !== "Basic128Rsa15" && p !== "Basic256", `deprecated policy offered: ${p}`);
    expect(e.serverCertificate && e.serverCertificate.length > 0, `${p}: no server certificate`);
    for (const t of e.userIdentityTokens) {
      if (t.tokenType === opcua.UserTokenType.UserName) {
        expect(t.securityPolicyUri && !t.securityPolicyUri.endsWith("#None"), `${p}/${M[e.securityMode]}: passwords in clear text`);
      }
    }
  }
  return { endpoints: names };
}

async function reject(endpoint, pkiDir) {
  const why = await refused(() => withSession(endpoint, pkiDir, P.Basic256Sha256, M.SignAndEncrypt, user("operator"), async () => {}));
  expect(why !== null, "a client certificate the server does not trust was accepted");
  return { refused: why };
}

async function secure(endpoint, pkiDir) {
  const out = {};
  for (const policy of [P.Basic256Sha256, P.Aes256_Sha256_RsaPss]) {
    const name = policy.split("#")[1];
    const st = await withSession(endpoint, pkiDir, policy, M.SignAndEncrypt, user("operator"), async (s) => {
      const w = await writeSetpoint(s, 42.5);
      const dv = await s.read({ nodeId: NS + "Sec/Setpoint", attributeId: opcua.AttributeIds.Value });
      expect(w.isGood(), `${name}: operator write: ${w.name}`);
      return dv.value.value;
    });
    expect(st === 42.5, `${name}: the write did not stick (read ${st})`);
    const v = await withSession(endpoint, pkiDir, policy, M.SignAndEncrypt, user("viewer"), (s) => writeSetpoint(s, 1));
    expect(v.name === "BadUserAccessDenied", `${name}: viewer write answered ${v.name}, want BadUserAccessDenied`);
    out[name] = "ok";
  }
  // On the None endpoint the password is encrypted with the server's certificate.
  const w = await withSession(endpoint, null, P.None, M.None, user("operator"), (s) => writeSetpoint(s, 7));
  expect(w.isGood(), `None + encrypted password: operator write: ${w.name}`);
  out.none = "ok";
  return out;
}

async function load(endpoint) {
  return withSession(endpoint, null, P.None, M.None, user("operator"), async (s) => {
    const out = {};
    // Browse + BrowseNext of the 10,001-child folder.
    s.requestedMaxReferencesPerNode = 1000;
    let res = await s.browse({ nodeId: NS + "Big", browseDirection: opcua.BrowseDirection.Forward,
      referenceTypeId: "Organizes", includeSubtypes: true, nodeClassMask: 0, resultMask: 63 });
    const refs = [...(res.references || [])];
    let cp = res.continuationPoint;
    let pages = 1;
    while (cp && cp.length && pages < 100) {
      const next = await s.browseNext(cp, false);
      refs.push(...(next.references || []));
      cp = next.continuationPoint;
      pages++;
    }
    expect(refs.length === 10001, `browse of Big found ${refs.length} children, want 10001`, { pages });
    expect(pages > 1, "browse of 10001 children needed no continuation point");
    out.browsed = refs.length;
    out.browsePages = pages;

    // A 10,000-value Read.
    const ids = refs.slice(0, 10000).map((r) => ({ nodeId: r.nodeId, attributeId: opcua.AttributeIds.Value }));
    const dvs = await s.read(ids, opcua.TimestampsToReturn.Both);
    const good = dvs.filter((d) => d.statusCode.isGood() && d.value.value === 1).length;
    expect(good === 10000, `read of 10000: ${good} Good values of 1`);
    out.read = good;

    // A subscription with 10,000 items (their initial values).
    const sub = opcua.ClientSubscription.create(s, { requestedPublishingInterval: 100, requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 1 });
    const seen = new Set();
    const group = opcua.ClientMonitoredItemGroup.create(sub, ids, { samplingInterval: 1000, discardOldest: true, queueSize: 1 },
      opcua.TimestampsToReturn.Both);
    group.on("changed", (item) => seen.add(item.itemToMonitor.nodeId.toString()));
    let deadline = Date.now() + 30000;
    while (seen.size < 10000 && Date.now() < deadline) await sleep(100);
    expect(seen.size === 10000, `subscription delivered ${seen.size} of 10000 items`);
    out.subscribed = seen.size;
    await sub.terminate();

    // Deadband absolute and percent on a counter (+1 per 100 ms scan, EURange 0..1000).
    for (const [kind, type, value, gap] of [["absolute", opcua.DeadbandType.Absolute, 5, 5], ["percent", opcua.DeadbandType.Percent, 1, 10]]) {
      const dsub = opcua.ClientSubscription.create(s, { requestedPublishingInterval: 100, requestedLifetimeCount: 600,
        requestedMaxKeepAliveCount: 20, publishingEnabled: true, priority: 1 });
      const vals = [];
      const it = opcua.ClientMonitoredItem.create(dsub, { nodeId: NS + "Sec/Count", attributeId: opcua.AttributeIds.Value },
        { samplingInterval: 100, discardOldest: true, queueSize: 1,
          filter: new opcua.DataChangeFilter({ trigger: opcua.DataChangeTrigger.StatusValue, deadbandType: type, deadbandValue: value }) },
        opcua.TimestampsToReturn.Both);
      it.on("changed", (dv) => vals.push(dv.value.value));
      deadline = Date.now() + 15000;
      while (vals.length < 4 && Date.now() < deadline) await sleep(100);
      await dsub.terminate();
      expect(vals.length >= 4, `deadband ${kind}: ${vals.length} notifications in 15 s`, { vals });
      for (let i = 1; i < vals.length; i++) {
        expect(Math.abs(vals[i] - vals[i - 1]) > gap, `deadband ${kind} ${value}: ${vals[i - 1]} -> ${vals[i]} is within ${gap}`, { vals });
      }
      out[`deadband_${kind}`] = vals.slice(0, 4);
    }

    // Delete a subscription of 10,000 items whose values change every 100 ms.
    const lsub = opcua.ClientSubscription.create(s, { requestedPublishingInterval: 100, requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 1 });
    const lids = [];
    for (let i = 0; i < 10000; i++) lids.push({ nodeId: `${NS}Load/C${i}`, attributeId: opcua.AttributeIds.Value });
    let changes = 0;
    const lgroup = opcua.ClientMonitoredItemGroup.create(lsub, lids, { samplingInterval: 100, discardOldest: true, queueSize: 1 },
      opcua.TimestampsToReturn.Both);
    lgroup.on("changed", () => changes++);
    deadline = Date.now() + 30000;
    while (changes < 30000 && Date.now() < deadline) await sleep(100);
    expect(changes >= 30000, `load subscription delivered ${changes} changes, want >= 30000`);
    const t0 = Date.now();
    await lsub.terminate();
    out.loadChanges = changes;
    out.deleteMs = Date.now() - t0;
    const after = await s.read({ nodeId: NS + "Sec/Setpoint", attributeId: opcua.AttributeIds.Value });
    expect(after.statusCode.isGood(), `read after delete under load: ${after.statusCode.name}`);
    return out;
  });
}

async function locked(endpoint, pkiDir) {
  const out = {};
  out.none = await refused(() => withSession(endpoint, null, P.None, M.None, user("operator"), async () => {}));
  expect(out.none !== null, "a None channel was served with security [basic256sha256]");
  out.anonymous = await refused(() => withSession(endpoint, pkiDir, P.Basic256Sha256, M.SignAndEncrypt, undefined, async () => {}));
  expect(out.anonymous !== null, "anonymous was accepted with anonymous: off");
  const w = await withSession(endpoint, pkiDir, P.Basic256Sha256, M.Sign, user("operator"), (s) => writeSetpoint(s, 3));
  expect(w.isGood(), `operator on Basic256Sha256/Sign: ${w.name}`);
  out.operator = "ok";
  return out;
}

async function main() {
  const [step, endpoint, pkiDir] = process.argv.slice(2);
  const steps = { endpoints, reject, secure, load, locked };
  expect(steps[step], `unknown step ${step}`);
  const res = await steps[step](endpoint, pkiDir);
  console.log(JSON.stringify({ ok: true, step, ...res }));
  process.exit(0);
}

main().catch((err) => fail(err.message || String(err), { stack: String(err.stack || "") }));
