import * as z from 'zod/mini';
import { WabaId } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';

export const BindWabaParams = camsParams(z.strictObject({ WabaId: WabaId() }));
