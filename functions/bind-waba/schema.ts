import * as z from 'zod/mini';
import { WabaId } from '../../shared/validation/cams-fields.ts';

export const BindWabaParams = z.strictObject({ WabaId });
