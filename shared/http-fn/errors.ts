/** A reply decided before or instead of the service: carries its status and CAMS-style Code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { fields?: FieldProblem[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface FieldProblem {
  Field: string;
  Message: string;
}

/**
 * The Code of a request refused for these field problems: `MissingParameter` only when every one is a
 * missing value, so that Code alone tells the caller all it must do is add them; one malformed value
 * makes it `InvalidParameter` (Fields still name each problem, missing ones too).
 */
export function validationCode(fields: readonly FieldProblem[]): 'MissingParameter' | 'InvalidParameter' {
  return fields.length > 0 && fields.every((f) => f.Message.startsWith('is required')) ? 'MissingParameter' : 'InvalidParameter';
}
