import { finished } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../../core/config';
import { PayloadTooLargeError } from '../../core/errors';

/**
 * How many body bytes the API reads. A route's parser refuses past its own limit; `refusedDrain` bounds what is read
 * of any request at all, refused ones included: twice the largest body a route accepts (a JSON search carries its
 * image in base64, 4/3 of IMAGE_MAX_BYTES, plus up to 64 KiB of options; a webhook WEBHOOK_MAX_BYTES).
 */
export function bodyLimits(config: Config): { searchJson: number; webhook: number; refusedDrain: number } {
  const searchJson = Math.ceil((config.image.maxBytes * 4) / 3) + 64 * 1024;
  const webhook = config.webhook.maxBytes;
  return { searchJson, webhook, refusedDrain: 2 * Math.max(searchJson, webhook) };
}

const declaredLength = (request: Request): number | null => {
  const header = request.headers['content-length'];
  return header === undefined ? null : Number(header);
};

/**
 * The first middleware: no request body is read past `maxBytes`. A declared Content-Length over it is refused at
 * once (413 `payload_too_large`, the connection closed after the answer). A chunked body is counted as it arrives:
 * past `maxBytes` the rest is left unread, whoever reads the request sees it end there (a parser still draining after
 * its own, lower limit then answers: 413), and the connection closes after the answer.
 */
export function limitRequestBody(maxBytes: number) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const declared = declaredLength(request);
    if (declared !== null && declared > maxBytes) {
      return next(new PayloadTooLargeError(`the request body is larger than the ${maxBytes} bytes the API reads`, 'payload_too_large'));
    }
    if (declared === null && request.headers['transfer-encoding'] !== undefined) capChunkedBody(request, response, maxBytes);
    next();
  };
}

/**
 * Node's HTTP parser hands each body chunk to `request.push` (whoever reads, and however); counting there is the one
 * place that sees every byte of a chunked body without taking the stream out of its readers' hands.
 */
function capChunkedBody(request: Request, response: Response, maxBytes: number): void {
  let received = 0;
  let cut = false;
  const push = request.push.bind(request);
  request.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (cut) return false;
    if (chunk === null) return push(null);
    received += (chunk as Buffer).length;
    if (received <= maxBytes) return push(chunk, encoding);
    cut = true;
    if (!response.headersSent) response.setHeader('Connection', 'close');
    else if (response.writableFinished) request.socket.destroy();
    else response.once('finish', () => request.socket.destroy());
    // The body ends here for this server. Node destroys a request that ends before its message is complete, and the
    // socket with it, before anyone could answer: so it is marked complete (what is left is never read).
    request.complete = true;
    push(null);
    // false: the parser stops reading the socket; the client is held back until the answer and the close.
    return false;
  };
}

/**
 * Before a refusal is answered, reads and drops what is left of the request's body, so that a client still uploading
 * reads the answer rather than a connection reset (answering first and closing would reset the connection with the
 * upload unread; answering first on a kept connection leaves Node reading the rest without a bound). The body is
 * bounded by `limitRequestBody` (`maxBytes`). Resolves true when the body is all in and the connection can carry
 * another request; false when it is not (a body past `maxBytes`): then answer with `Connection: close`.
 */
export async function drainRequestBody(request: Request, maxBytes: number): Promise<boolean> {
  if (request.complete) return true;
  const declared = declaredLength(request);
  if (request.destroyed || request.readableEnded || (declared !== null && declared > maxBytes)) return false;
  await new Promise<void>((resolve) => {
    finished(request, () => resolve());
    request.resume();
  });
  return request.complete;
}
