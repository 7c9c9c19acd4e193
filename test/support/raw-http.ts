import { connect } from 'node:net';

/**
 * One raw HTTP/1.1 exchange with a local server, for requests no client library would send (broken
 * targets, oversized headers). Resolves with the status and body once the server closes; the request
 * should say `connection: close`. Written, not half-closed: Node drops the answer to a client that has
 * already ended its side.
 */
export function rawExchange(port: number, request: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(0, split).split(' ')[1]), body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}
