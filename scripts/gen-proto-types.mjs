// Generates TypeScript types for the .proto files (src/gen/, not committed) so
// handlers and clients are checked against the wire contract at compile time.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const genTypes = join(require.resolve('@grpc/proto-loader'), '../../bin/proto-loader-gen-types.js');
const protoDir = join(root, 'proto');
const files = readdirSync(join(protoDir, 'hedge/v1')).map((f) => `hedge/v1/${f}`);
rmSync(join(root, 'src/gen'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    genTypes,
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    '--importFileExtension=.js',
    '-I',
    protoDir,
    '-O',
    join(root, 'src/gen'),
    ...files,
  ],
  { stdio: 'inherit' },
);
