// What of a request may be stored with its job and shown again.

/** Job parameters are stored and shown: passwords and recovery keys never are. */
export function withoutSecrets<T extends { password?: string | undefined; recoveryKey?: string | undefined }>(
  request: T,
): Omit<T, 'password' | 'recoveryKey'> {
  const { password: _password, recoveryKey: _recoveryKey, ...rest } = request;
  return rest;
}
