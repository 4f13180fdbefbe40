// Binds the scripted model's replies to the test that scripts them (issue 24): the script starts
// empty for each test, a test that leaves a reply unused fails naming it, and a request that a
// finished test's generation makes later gets an error instead of the next test's reply.
import { afterEach, beforeEach } from 'vitest';
import { describeReply, type FakeOpenAI } from './fake-openai';

/** Call at the top level of a test file (or inside the helper that starts its fake). */
export function scriptPerTest(fake: () => FakeOpenAI | null | undefined): void {
  beforeEach((ctx) => {
    fake()?.beginTest(ctx.task.name);
  });
  afterEach((ctx) => {
    const left = fake()?.endTest() ?? [];
    // a test that failed already says why; its unused replies are a consequence, not the cause
    if (left.length && ctx.task.result?.state !== 'fail') {
      throw new Error(`the scripted model's replies were not all used by "${ctx.task.name}": ${left.length} left: ${left.map(describeReply).join('; ')}`);
    }
  });
}
