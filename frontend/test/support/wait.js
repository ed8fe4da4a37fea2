// The tests' waits, one set for every test file and support module: a pause, a poll with a
// deadline, and a deadline on a promise. Every wait ends with a message saying what never came.

/** sleep resolves after ms. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * until polls cond until it returns a truthy value, and resolves to that value; after timeout ms
 * it fails, naming what did not happen and the last answer (or error). A condition that throws
 * is asked again: what it reads may not be there yet. A plain condition reads memory and is
 * asked every 10 ms; one that returns a promise asks a browser or a server, and is asked every
 * 50 ms, so that the polling does not load the machine it waits on (`every` sets either).
 */
export async function until(cond, what, timeout = 5_000, every = undefined) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    let asked;
    try {
      asked = cond();
      last = await asked;
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`${what} did not happen within ${timeout} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(every ?? (asked instanceof Promise ? 50 : 10));
  }
}

/**
 * within waits for promise and fails after ms with what() (called then, so it can describe
 * the state at that moment). Unlike a race with sleep, it leaves no timer keeping the test
 * file alive.
 */
export async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
