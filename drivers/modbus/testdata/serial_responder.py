#!/usr/bin/python3
"""Modbus RTU/ASCII responder for the driver's serial tests (an independent
peer: Debian python3-pymodbus 3.0).

usage: serial_responder.py PORT rtu|ascii UNIT [UNIT...]

Serves 19200 8N1 with zero-based addresses (zero_mode=True). Every unit u
holds, for i in 0..99:
  hr[i] = u*1000 + i, ir[i] = u*1000 + 500 + i,
  coil[i] = i % 2 == 0, di[i] = i % 3 == 0.
Addresses 100 and up do not exist (exception 2). Unknown unit ids get no
answer at all (single=False). Prints "ready" once the port is open.
"""
import asyncio
import logging
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartAsyncSerialServer
from pymodbus.transaction import ModbusAsciiFramer, ModbusRtuFramer


def unit_context(u):
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, [u * 1000 + i for i in range(100)]),
        ir=ModbusSequentialDataBlock(0, [u * 1000 + 500 + i for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(100)]),
        di=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(100)]),
        zero_mode=True,
    )


async def main():
    port, mode, units = sys.argv[1], sys.argv[2], [int(u) for u in sys.argv[3:]]
    framer = ModbusRtuFramer if mode == "rtu" else ModbusAsciiFramer
    context = ModbusServerContext(slaves={u: unit_context(u) for u in units}, single=False)
    server = await StartAsyncSerialServer(
        context=context, framer=framer, port=port, baudrate=19200, bytesize=8,
        parity="N", stopbits=1, timeout=0.05, defer_start=True)
    await server.start()
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main())
