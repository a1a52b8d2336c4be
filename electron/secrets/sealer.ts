// A sealer turns a secret into bytes only it opens again. Its own file: the secret store and the
// migration off the old key both seal, and neither should import the other for it.

/** Encrypt/decrypt pair, such as Electron's safeStorage.encryptString/decryptString. */
export type Sealer = { seal(plain: string): Buffer; open(sealed: Buffer): string };
