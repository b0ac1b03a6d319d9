import * as z from 'zod/mini';
import { CustSpaceId, IsvCode } from '../../shared/validation/cams-fields.ts';

export const QueryWabaParams = z.strictObject({ CustSpaceId, IsvCode: z.optional(IsvCode) });
