/** patronictl's PatroniCtlException: printed as `Error: <message>`, exit status 1. */
export class CtlError extends Error {
  override readonly name = 'CtlError';
}
