// modbus_peer.js: an independent Modbus TCP server (npm jsmodbus@5.0.0) on
// 127.0.0.1:0 holding known values, for test/interop/modbus_test.go. It
// prints {"port": N} on stdout once it listens and serves until killed.
//
// Memory (unit id ignored, zero-based PDU addresses):
//   hr:0..1   float32 ABCD  21.5
//   hr:2      int16         -500
//   hr:3..4   uint32 CDAB   123456789 (low word first)
//   hr:5..8   string        "JSMODBUS" (high byte first)
//   hr:10     0x0005        bit 0 and bit 2 set
//   hr:20..21 float32 ABCD  1.0  (written by the test)
//   hr:22     uint16        0    (written by the test)
//   ir:0      uint16        4321
//   ir:1..2   float32 ABCD  -3.25
//   coil:0 on, coil:1 off, coil:2 on, coil:10 off (written by the test)
//   di:0 on, di:1 off
// Only hr:0..99, ir:0..19, coil:0..63 and di:0..63 exist. jsmodbus answers a
// read past them with a short or empty normal response, not exception 2.
"use strict";
const net = require("net");
const modbus = require("jsmodbus");

const holding = Buffer.alloc(100 * 2);
const input = Buffer.alloc(20 * 2);
const coils = Buffer.alloc(8);
const discrete = Buffer.alloc(8);

holding.writeFloatBE(21.5, 0);
holding.writeInt16BE(-500, 4);
const u32 = 123456789;
holding.writeUInt16BE(u32 & 0xffff, 6);
holding.writeUInt16BE(u32 >>> 16, 8);
holding.write("JSMODBUS", 10, "latin1");
holding.writeUInt16BE(0x0005, 20);
holding.writeFloatBE(1.0, 40);
holding.writeUInt16BE(0, 44);
input.writeUInt16BE(4321, 0);
input.writeFloatBE(-3.25, 2);
coils[0] = 0b00000101; // coil 0 and 2 (bit 0 of byte 0 is coil 0)
discrete[0] = 0b00000001;

const netServer = new net.Server();
new modbus.server.TCP(netServer, { holding, input, coils, discrete });
netServer.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: netServer.address().port }));
});
netServer.on("error", (e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
