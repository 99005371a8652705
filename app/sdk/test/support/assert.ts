import assert from "node:assert/strict";

import { errorCode, MARGIN_ERRORS, TransactionFailedError, type MarginErrorName } from "../../src";

/** Awaits `action`, asserts that it failed with the program's named error `name`, and returns
 * the error. */
export async function expectMarginError(action: () => Promise<unknown>, name: MarginErrorName): Promise<TransactionFailedError> {
  let failure: unknown;
  try {
    await action();
  } catch (error) {
    failure = error;
  }
  assert.ok(failure instanceof TransactionFailedError, `expected ${name}, got ${failure === undefined ? "success" : String(failure)}`);
  assert.equal(failure.decoded?.name, name, `expected ${name}, got ${failure.message}\n${failure.logs.join("\n")}`);
  assert.equal(failure.decoded?.origin, "program");
  assert.equal(failure.decoded?.code, errorCode(name));
  assert.equal(MARGIN_ERRORS.get(failure.decoded.code)?.name, name);
  return failure;
}

/** Like `expectMarginError`, and asserts that none of the accounts in the snapshot changed. */
export async function expectRejected(
  snapshot: () => Map<string, string>,
  action: () => Promise<unknown>,
  name: MarginErrorName,
): Promise<TransactionFailedError> {
  const before = snapshot();
  const failure = await expectMarginError(action, name);
  assert.deepEqual(snapshot(), before, `${name}: an account changed`);
  return failure;
}
