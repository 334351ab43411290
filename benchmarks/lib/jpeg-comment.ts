/**
 * The JPEG with a comment segment (COM, 0xFFFE) carrying `text` right after its start-of-image marker: the same
 * pixels, distinct bytes and so a distinct content hash. The indexer reuses vectors by image hash, so a benchmark
 * that wants a new product embedded (not recognised as a known image) gives each one its own comment.
 */
export function withJpegComment(jpeg: Buffer, text: string): Buffer {
  const bytes = Buffer.from(text);
  if (bytes.length > 65_533) throw new Error('a JPEG comment holds at most 65,533 bytes');
  const segment = Buffer.alloc(4 + bytes.length);
  segment[0] = 0xff;
  segment[1] = 0xfe;
  segment.writeUInt16BE(bytes.length + 2, 2);
  bytes.copy(segment, 4);
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}
