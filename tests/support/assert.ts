/** std-style names over `node:assert/strict`, so tests read `assertEquals(actual, expected)`. */
import assert from "node:assert/strict";

export { assert };

/** Deep strict equality. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  assert.deepEqual(actual, expected, message);
}

/** `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  assert.match(text, pattern, message);
}

/** `fn` rejects (with an instance of `errorClass` when given); returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any -- an error class's constructor may take anything
  errorClass?: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (errorClass && !(error instanceof errorClass)) {
      throw new assert.AssertionError({
        message: `expected ${errorClass.name}, got ${String(error)}`,
      });
    }
    return error as E;
  }
  throw new assert.AssertionError({ message: "expected the call to reject" });
}
