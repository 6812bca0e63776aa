// Starts tests/stampede/instance.mjs processes (the stampede tests' and bench/stampede.mjs's):
// one per job, each sent its job once all are ready, so that they start together.
import { fork } from "node:child_process";
import process from "node:process";

/** Starts one process per job, tells them all to go once each is ready, and gives their answers. */
export async function instances(jobs) {
  const children = jobs.map((job) => fork(new URL("./instance.mjs", import.meta.url), { env: { ...process.env, STAMPEDE_JOB: JSON.stringify(job) } }));
  try {
    const answers = children.map(
      (child) =>
        new Promise((resolve, reject) => {
          child.on("message", (m) => m.ready || resolve(m));
          child.on("exit", (code) => reject(new Error(`an instance exited (${code}) without answering`)));
        }),
    );
    await Promise.all(children.map((child) => new Promise((resolve) => child.once("message", resolve))));
    const exited = children.map((child) => new Promise((resolve) => child.once("exit", resolve)));
    for (const child of children) child.send("go");
    const all = await Promise.all(answers);
    await Promise.all(exited); // each frees what it holds before it exits
    return all;
  } finally {
    for (const child of children) child.kill();
  }
}

