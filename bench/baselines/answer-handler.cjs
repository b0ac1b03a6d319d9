/* global exports */
/**
 * function-cold-start reference (not a goal): a handler that answers at once, with no call. Its row
 * is what the runner itself (bench/lib/fn-runner.cjs: requiring a file, the marks, the exit) costs
 * over `node -e 0`, which every other row pays as well.
 */
'use strict';
exports.handler = async () => ({ statusCode: 200, headers: {}, body: '{"Code":"OK"}', isBase64Encoded: false });
