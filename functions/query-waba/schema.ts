import * as z from '../../shared/validation/schema.ts';
import { CustSpaceId, IsvCode } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';

/** Both optional (seed): without CustSpaceId the call is about the caller's own WABA, as a direct customer. */
export const QueryWabaParams = camsParams(z.strictObject({ CustSpaceId: z.optional(CustSpaceId()), IsvCode: z.optional(IsvCode()) }));
