// A TLS server for the tests of the OpenSSL tools (sslsniff, sslsnoop, ssllatency): Python's ssl module (so
// OpenSSL's SSL_do_handshake, SSL_read_ex and SSL_write_ex) on loopback with a self-signed certificate made
// in a temporary directory. It answers one request with `response`, prints the request in hex, and exits.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { tmpDir, track, type Running } from './helpers.js';

const SERVER = (cert: string, key: string, port: number, response: string) => `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(${JSON.stringify(cert)}, ${JSON.stringify(key)})
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", ${port})); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); t = ctx.wrap_socket(c, server_side=True)
req = b""
while not req.endswith(b"\\r\\n\\r\\n"):
    req += t.recv(4096)
t.sendall(${JSON.stringify(response)}.encode())
print(req.hex(), flush=True)
t.close()
`;

/** Starts the server; resolves once it listens. `request()` is what it received (after it exited). */
export async function startTlsServer(port: number, response: string): Promise<Running & { request(): string }> {
  const dir = tmpDir();
  const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  const req = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost',
    '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (req.status !== 0) throw new Error(`openssl req: ${req.stderr}`);
  const server = track(spawn('/usr/bin/python3', ['-c', SERVER(cert, key, port, response)], { stdio: ['ignore', 'pipe', 'pipe'] }), 'TLS server');
  await server.waitFor(/listening/);
  return Object.assign(server, { request: () => Buffer.from(server.stdout().trim().split('\n')[1] ?? '', 'hex').toString('utf8') });
}
