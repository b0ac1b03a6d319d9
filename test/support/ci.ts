// Under CI (.ci/run sets CI=true) the tools it installs must be there: a test that needs one and
// finds none fails rather than being skipped, so a broken CI image cannot pass by testing less.
import { it } from 'vitest';

export const inCI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

/** Registers a test that fails with `message` when `found` is missing and CI is set. */
export function failInCIWithout(found: string | undefined, title: string, message: string): void {
  if (!found && inCI) {
    it(title, () => {
      throw new Error(message);
    });
  }
}
