import { camsEventsHandler } from '../../shared/services/cams-events.ts';

/** CAMS ChatAppAudit receipts: `POST /cams/receipts?token=` (HTTP callback) and the SMQ/MNS queue trigger. */
export const handler = camsEventsHandler();
