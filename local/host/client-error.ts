/**
 * What the host answers a request Node cannot take (the http server's 'clientError'): the CAMS
 * envelope, as every other refusal, instead of Node's bare status line. Headers over Node's limit
 * (http.maxHeaderSize, 16 KiB) are 431 RequestHeaderFieldsTooLarge.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';

function refusal(err: Error & { code?: string }): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'RequestHeaderFieldsTooLarge', `The request headers exceed ${http.maxHeaderSize} bytes.`];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'RequestTimeout', 'The request did not arrive in time.'];
    default:
      return [400, 'BadRequest', 'The request is not valid HTTP/1.1.'];
  }
}

export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string): void {
  // A reset connection, or a reply already under way: nobody to answer, or too late to.
  const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (!socket.writable || err.code === 'ECONNRESET' || inProgress) {
    socket.destroy();
    return;
  }
  const [status, code, message] = refusal(err);
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
