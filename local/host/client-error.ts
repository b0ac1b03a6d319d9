/**
 * What the host answers a request Node cannot parse (the http server's 'clientError'): the CAMS
 * envelope, as every other refusal, instead of Node's bare 400. Headers over Node's limit
 * (http.maxHeaderSize, 16 KiB) are 431 RequestHeaderFieldsTooLarge.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';

export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string): void {
  // A connection reset or a timeout: nobody to answer.
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'RequestHeaderFieldsTooLarge', `The request headers exceed ${http.maxHeaderSize} bytes.`]
      : [400, 'BadRequest', 'The request is not valid HTTP/1.1.'];
  const body = JSON.stringify({ RequestId: requestId, Code: code, Message: message, Success: false });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `x-fc-request-id: ${requestId}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
