import * as z from '../../shared/validation/schema.ts';
import { WabaId } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';

export const BindWabaParams = camsParams(z.strictObject({ WabaId: WabaId() }));
