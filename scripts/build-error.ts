/** A build failure whose message says what is wrong and where: main() prints it as it is, no stack. */
export class BuildError extends Error {
  override name = 'BuildError';
}
