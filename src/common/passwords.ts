import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt at N = 2^15, r = 8, p = 1 (32 MiB, about 90 ms on this project's 2-core
 * reference machine): a real work factor for a password hash. It runs on libuv's
 * thread pool, off the event loop.
 */
const SCRYPT: ScryptOptions & { N: number; r: number; p: number } = {
  N: 2 ** 15,
  r: 8,
  p: 1,
  maxmem: 64 * 1024 * 1024,
};
const KEY_LENGTH = 32;

export interface PasswordHash {
  params: string;
  salt: Buffer;
  hash: Buffer;
}

/**
 * scrypts running at once in this process. libuv's pool (4 threads) also runs the
 * database driver's SCRAM sign-in (pbkdf2) and file reads: with every thread in a
 * scrypt, a burst of sign-ins held a new database connection past its timeout. Two
 * keep a 2-core machine busy.
 */
const SCRYPT_CONCURRENCY = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  // A finished scrypt hands its slot to the next waiting one.
  if (running < SCRYPT_CONCURRENCY) running += 1;
  else await new Promise<void>((go) => waiting.push(go));
  try {
    return await new Promise((resolve, reject) =>
      scrypt(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
    );
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  }
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return {
    params: `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}`,
    salt,
    hash: await derive(password, salt, SCRYPT),
  };
}

/** A stand-in for unknown users, so a wrong username costs as much time as a wrong password. */
const DUMMY: PasswordHash = {
  params: `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}`,
  salt: Buffer.alloc(16),
  hash: Buffer.alloc(KEY_LENGTH),
};

export async function verifyPassword(password: string, stored: PasswordHash | undefined): Promise<boolean> {
  const target = stored ?? DUMMY;
  const [scheme, n, r, p] = target.params.split('$');
  if (scheme !== 'scrypt') return false;
  const key = await derive(password, target.salt, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return stored !== undefined && key.length === target.hash.length && timingSafeEqual(key, target.hash);
}
