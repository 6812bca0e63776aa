"""The Python side of tests/python/interop.test.mjs: the real async-caches (from PyPI) on the
same Redis as edge-caches, driven over stdin/stdout, one JSON object a line.

Request:  {"cache": {"url": ..., "key_prefix": ..., "version": ..., "ttl": ...}, "op": "get",
           "args": [...], "kwargs": {...}}
Answer:   {"result": ...} or {"error": "ValueError", "message": "..."}

JSON between the two test processes cannot carry NaN, the infinities or a float that looks
whole, so they cross as {"$float": "nan"} (or "inf", "-inf", "1.0"), both ways. "raw_get"
reads the text Redis holds for a stored key, byte for byte.
"""
import asyncio
import json
import math
import sys

from caches import Cache

caches = {}


def decode(value):
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


async def cache_for(spec):
    key = json.dumps(spec, sort_keys=True)
    if key not in caches:
        options = {k: decode(v) for k, v in spec.items() if k != "url"}
        cache = Cache(spec["url"], **options)
        await cache.connect()
        caches[key] = cache
    return caches[key]


async def answer(request):
    cache = await cache_for(request["cache"])
    op = request["op"]
    args = decode(request.get("args", []))
    kwargs = decode(request.get("kwargs", {}))
    if op == "raw_get":
        raw = await cache._backend._pool.execute("GET", args[0])
        return None if raw is None else raw.decode("utf-8")
    if op == "raw_pttl":
        return await cache._backend._pool.execute("PTTL", args[0])
    if op == "make_key":
        return cache.make_key(*args, **kwargs)
    return await getattr(cache, op)(*args, **kwargs)


async def main():
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        try:
            reply = {"result": encode(await answer(json.loads(line)))}
        except Exception as error:  # the test asserts on the error's type
            reply = {"error": type(error).__name__, "message": str(error)}
        sys.stdout.write(json.dumps(reply, allow_nan=False) + "\n")
        sys.stdout.flush()
    for cache in caches.values():
        await cache.disconnect()


asyncio.run(main())
