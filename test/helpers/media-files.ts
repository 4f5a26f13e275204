// Small real audio and video files for upload tests: just the headers Parley sniffs and
// Meta's parsers start from, plus a tag so each test's file has its own hash.

/** An Ogg page holding an Opus identification header (RFC 7845 §5.1): audio/ogg with Opus. */
export function oggOpus(tag = ''): Buffer {
  const opusHead = Buffer.concat([
    Buffer.from('OpusHead'),
    Buffer.from([1, 1]), // version, one channel
    Buffer.from([0x38, 0x01]), // pre-skip 312
    Buffer.from([0x80, 0xbb, 0, 0]), // 48 kHz
    Buffer.from([0, 0, 0]), // gain 0, mapping family 0
  ])
  const page = Buffer.concat([
    Buffer.from('OggS'),
    Buffer.from([0, 0x02]), // version 0, beginning of stream
    Buffer.alloc(8), // granule position
    Buffer.from([1, 0, 0, 0]), // serial
    Buffer.alloc(4), // page sequence 0
    Buffer.alloc(4), // CRC (not checked by Parley)
    Buffer.from([1, opusHead.length]), // one segment
    opusHead,
  ])
  return Buffer.concat([page, Buffer.from(tag)])
}

/** An Ogg page of Vorbis, not Opus: WhatsApp does not take it. */
export function oggVorbis(): Buffer {
  const head = Buffer.concat([Buffer.from([1]), Buffer.from('vorbis'), Buffer.alloc(23)])
  return Buffer.concat([Buffer.from('OggS'), Buffer.from([0, 0x02]), Buffer.alloc(20), Buffer.from([1, head.length]), head])
}

/** An ISO base media file: an `ftyp` box (major brand isom) and a `free` box carrying the tag. */
export function mp4(tag = '', size = 0): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isommp41')])
  const payload = Buffer.concat([Buffer.from(tag), Buffer.alloc(Math.max(0, size - ftyp.length - 8 - tag.length))])
  const free = Buffer.alloc(8)
  free.writeUInt32BE(8 + payload.length, 0)
  free.write('free', 4, 'latin1')
  return Buffer.concat([ftyp, free, payload])
}

/** An agent's upload as the composer sends it: multipart to /api/media. */
export async function uploadMedia(
  url: string,
  token: string,
  bytes: Buffer,
  type: string,
  name: string,
): Promise<{ status: number; body: any }> {
  const form = new FormData()
  form.set('file', new Blob([new Uint8Array(bytes)], { type }), name)
  const res = await fetch(`${url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  return { status: res.status, body: (await res.json()) as any }
}
