// demo.js ENDPOINT EXPECT_JSON: drives the built-in demo with node-opcua.
// EXPECT_JSON: {"minTags": n, "changing": "<nodeId>", "setpoint": "<nodeId>",
//               "user": "name", "password": "pw", "value": 42.5}
"use strict";
const { opcua, fail, expect, newClient, browseAll, sleep } = require("./common");

async function main() {
  const [endpoint, expJSON] = process.argv.slice(2);
  const exp = JSON.parse(expJSON);
  const client = await newClient();
  await client.connect(endpoint);
  const result = { ok: true };

  // Endpoints are offered.
  const eps = await client.getEndpoints();
  expect(eps.length > 0, "no endpoints");
  result.endpoints = eps.map((e) => `${e.securityPolicyUri.split("#")[1]}/${opcua.MessageSecurityMode[e.securityMode]}`);

  const session = await client.createSession();

  // Browse finds the demo tags under Objects.
  const vars = (await browseAll(session, "ObjectsFolder")).filter((v) => v.nodeId.startsWith("ns=1;"));
  result.tags = vars.length;
  expect(vars.length >= exp.minTags, `browse found ${vars.length} tags, want >= ${exp.minTags}`, { vars });
  const ids = new Set(vars.map((v) => v.nodeId));
  expect(ids.has(exp.changing), `browse did not find ${exp.changing}`);
  expect(ids.has(exp.setpoint), `browse did not find ${exp.setpoint}`);

  // Read returns Good values with timestamps (give the poller a moment).
  await sleep(1500);
  const dvs = await session.read(vars.map((v) => ({ nodeId: v.nodeId, attributeId: opcua.AttributeIds.Value })), opcua.TimestampsToReturn.Both);
  let good = 0;
  for (let i = 0; i < dvs.length; i++) {
    const dv = dvs[i];
    if (dv.statusCode.isGood()) {
      good++;
      expect(dv.sourceTimestamp && dv.serverTimestamp, `no timestamps on ${vars[i].nodeId}`);
    }
  }
  result.good = good;
  expect(good >= exp.minTags, `only ${good} of ${dvs.length} tags Good`, { statuses: dvs.map((d, i) => `${vars[i].nodeId}: ${d.statusCode.name}`) });

  // A 1 s subscription delivers changes.
  const sub = opcua.ClientSubscription.create(session, {
    requestedPublishingInterval: 1000, requestedLifetimeCount: 60, requestedMaxKeepAliveCount: 10,
    maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 1,
  });
  const values = [];
  const item = opcua.ClientMonitoredItem.create(sub, { nodeId: exp.changing, attributeId: opcua.AttributeIds.Value },
    { samplingInterval: 250, discardOldest: true, queueSize: 10 }, opcua.TimestampsToReturn.Both);
  item.on("changed", (dv) => values.push(dv.value.value));
  const deadline = Date.now() + 8000;
  while (values.length < 3 && Date.now() < deadline) await sleep(100);
  result.notifications = values.length;
  expect(values.length >= 3, `subscription delivered ${values.length} changes in 8 s, want >= 3`);
  expect(new Set(values.map(String)).size >= 2, "subscription values did not change", { values });
  await sub.terminate();
  await session.close();

  // A write to the setpoint sticks (as a user with the write role).
  const wsession = await client.createSession({ type: opcua.UserTokenType.UserName, userName: exp.user, password: exp.password });
  const st = await wsession.write({ nodeId: exp.setpoint, attributeId: opcua.AttributeIds.Value,
    value: { value: { dataType: opcua.DataType[exp.dataType], value: exp.value } } });
  expect(st.isGood(), `write to ${exp.setpoint}: ${st.toString()}`);
  const back = await wsession.read({ nodeId: exp.setpoint, attributeId: opcua.AttributeIds.Value });
  expect(Math.abs(back.value.value - exp.value) < 1e-3, `read back ${back.value.value}, want ${exp.value}`);
  result.written = back.value.value;
  await wsession.close();

  // Anonymous may never write.
  const asession = await client.createSession();
  const ast = await asession.write({ nodeId: exp.setpoint, attributeId: opcua.AttributeIds.Value,
    value: { value: { dataType: opcua.DataType[exp.dataType], value: exp.value + 1 } } });
  expect(ast.name === "BadUserAccessDenied" || ast.name === "BadNotWritable", `anonymous write: ${ast.toString()}, want BadUserAccessDenied`);
  result.anonymousWrite = ast.name;
  await asession.close();

  await client.disconnect();
  console.log(JSON.stringify(result));
}

main().catch((e) => fail(String(e && e.stack || e)));
