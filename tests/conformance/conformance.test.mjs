// The conformance suite under node:test, in Node and in Deno (`deno test`), against the
// backend EDGE_CACHES_URL names (default: one named memory store shared by every cache of the
// suite, as they would share one Redis) with EDGE_CACHES_TOKEN for REST; EDGE_CACHES_NEAR=1 turns
// the near tier on in every cache, EDGE_CACHES_CLUSTER=1 says the gateway is over a Redis Cluster.
import { describe, it } from "node:test";
import process from "node:process";
import { Cache, CacheError } from "edge-caches";
import { defineConformance } from "./cases.mjs";

defineConformance({
  describe,
  it,
  Cache,
  CacheError,
  url: process.env.EDGE_CACHES_URL ?? "memory://conformance",
  token: process.env.EDGE_CACHES_TOKEN,
  near: process.env.EDGE_CACHES_NEAR === "1",
  cluster: process.env.EDGE_CACHES_CLUSTER === "1",
});
