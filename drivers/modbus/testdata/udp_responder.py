#!/usr/bin/python3
"""Modbus/UDP responder for the driver's UDP tests (an independent peer:
Debian python3-pymodbus 3.0, ModbusUdpServer with the MBAP socket framer).

usage: udp_responder.py PORT UNIT [UNIT...]

Binds 127.0.0.1:PORT (0: any free port) and prints "ready <port>" once the
socket is bound, so the test learns the port without a bind race; a restart
passes the same port again. Zero-based addresses (zero_mode=True). Every
unit u holds, for i in 0..99:
  hr[i] = u*1000 + i, ir[i] = u*1000 + 500 + i,
  coil[i] = i % 2 == 0, di[i] = i % 3 == 0.
Addresses 100 and up do not exist (exception 2). Unknown unit ids get no
answer at all (single=False).
"""
import asyncio
import logging
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartAsyncUdpServer
from pymodbus.transaction import ModbusSocketFramer


def unit_context(u):
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [u * 1000 + i for i in range(100)]),
        ir=ModbusSequentialDataBlock(0, [u * 1000 + 500 + i for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(100)]),
        di=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(100)]),
        zero_mode=True,
    )


async def main():
    port, units = int(sys.argv[1]), [int(u) for u in sys.argv[2:]]
    context = ModbusServerContext(slaves={u: unit_context(u) for u in units}, single=False)
    server = await StartAsyncUdpServer(
        context=context, framer=ModbusSocketFramer, address=("127.0.0.1", port),
        defer_start=True)
    task = asyncio.create_task(server.serve_forever())
    # A bind error (the port was taken by someone else meanwhile) ends the
    # task without ever setting server.serving: wait for either.
    await asyncio.wait({task, server.serving}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    # pymodbus 3.0 keeps the datagram transport in server.protocol.
    bound = server.protocol.get_extra_info("sockname")[1]
    print("ready", bound, flush=True)
    await task


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
