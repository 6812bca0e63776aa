// Shared by the conformance suites: which backend to test, and fresh caches for each test.
//
// EDGE_CACHES_URL picks the backend; EDGE_CACHES_TOKEN the REST token. The default is one
// named memory store that every cache of the suite shares, as they would share one Redis.
// Every cache gets a key prefix of its own, so tests never see each other's keys.
import { Cache } from "edge-caches";

export const URL = process.env.EDGE_CACHES_URL ?? "memory://conformance";
export const TOKEN = process.env.EDGE_CACHES_TOKEN;
export const isRest = /^https?:/.test(URL);
export const isMemory = URL.startsWith("memory:");

let counter = 0;
export function uniquePrefix() {
  return `t${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

export function newCache(options = {}, url = URL) {
  const base = isRest && TOKEN ? { token: TOKEN } : {};
  return new Cache(url, { ...base, keyPrefix: uniquePrefix(), ...options });
}

export async function open(options = {}, url = URL) {
  const cache = newCache(options, url);
  await cache.connect();
  return cache;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise and its resolver, to hold a call in flight. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}
