// The receipts' schema is shared with the queue path: each receipt is checked on its own, so one bad
// receipt in a batch gets its field errors and the others are still acted on.
export { parseBatch, parseReceipt, RECEIPT_TYPES } from '../../shared/receipts/parse.ts';
