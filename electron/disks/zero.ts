// Whether a block is all zero bytes (a hole to skip), eight bytes at a time where aligned.
export function isAllZero(data: Uint8Array): boolean {
  const words = data.byteOffset % 8 === 0 ? new BigUint64Array(data.buffer, data.byteOffset, Math.floor(data.length / 8)) : null;
  if (words) {
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
    for (let i = words.length * 8; i < data.length; i++) if (data[i] !== 0) return false;
    return true;
  }
  return data.every((byte) => byte === 0);
}
