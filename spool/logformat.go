package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
)

// The body log's on-disk format: the segment header, the record and the
// reference (l/<id>) to a record. bodylog.go writes and reads them.

var (
	segMagic   = [8]byte{'R', 'L', 'Y', 'D', 'S', 'E', 'G', '1'}
	recMagic   = [4]byte{'R', 'L', 'R', '1'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Record layout (little endian):
//
//	[0:4]   recMagic
//	[4:8]   CRC-32C of [recHeaderLen:] followed by [12:recHeaderLen]
//	[8]     flags, outside the CRC: flagDead marks a failed commit
//	[9:12]  zero
//	[12:20] segment sequence number
//	[20:24] envelope length
//	[24:28] body length
//	[28:30] ID length
//	[30:32] zero
//	        ID, envelope (codec.go), body
const flagDead = 1

// logRecord is a parsed record.
type logRecord struct {
	id        string
	env, body []byte
	dead      bool
	size      int // bytes on disk
}

// recAlign: records start on a page boundary and are written as whole
// pages (zero padded). The segment's pages are not cached (adviseSegment),
// and writing part of an uncached page makes the kernel read it from disk
// first: 0.1 ms per commit.
const recAlign = 4096

func pageAlign(n int) int { return (n + recAlign - 1) &^ (recAlign - 1) }

// recordSize is the size of the record of id, env and body.
func recordSize(id string, env, body []byte) int {
	return recHeaderLen + len(id) + len(env) + len(body)
}

// buildRecord returns the record of id, env and body with its sequence
// number and CRC still to be set (sealRecord), in a new buffer whose
// capacity reaches the next page, zeros after the record: see append.
func buildRecord(id string, env, body []byte) []byte {
	return fillRecord(make([]byte, pageAlign(recordSize(id, env, body))), id, env, body)
}

// fillRecord writes the record of id, env and body into b, which is its
// size rounded up to a page and may hold anything, zeros the rest of b
// and returns the record, b[:size].
func fillRecord(b []byte, id string, env, body []byte) []byte {
	size := recordSize(id, env, body)
	clear(b[:recHeaderLen])
	clear(b[size:])
	copy(b, recMagic[:])
	binary.LittleEndian.PutUint32(b[20:], uint32(len(env)))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(body)))
	binary.LittleEndian.PutUint16(b[28:], uint16(len(id)))
	n := copy(b[recHeaderLen:], id)
	n += copy(b[recHeaderLen+n:], env)
	copy(b[recHeaderLen+n:], body)
	return b[:size]
}

// crc32Payload is the CRC-32C of the part of rec after its header.
func crc32Payload(rec []byte) uint32 {
	return crc32.Checksum(rec[recHeaderLen:], castagnoli)
}

// sealRecord sets the sequence number and the CRC of rec; payloadCRC is the
// CRC-32C of rec[recHeaderLen:], computed before the log lock is taken.
func sealRecord(rec []byte, seq uint64, payloadCRC uint32) {
	binary.LittleEndian.PutUint64(rec[12:], seq)
	crc := crc32.Update(payloadCRC, castagnoli, rec[12:recHeaderLen])
	binary.LittleEndian.PutUint32(rec[4:], crc)
}

// parseRecordHeader checks the header of a record of segment seq and
// returns the record's total size; ok is false for anything that is not
// such a header (zeros, a torn write, a record of an earlier use).
func parseRecordHeader(h []byte, seq uint64) (size int, ok bool) {
	if len(h) < recHeaderLen || [4]byte(h[:4]) != recMagic ||
		binary.LittleEndian.Uint64(h[12:]) != seq {
		return 0, false
	}
	envLen := binary.LittleEndian.Uint32(h[20:])
	bodyLen := binary.LittleEndian.Uint32(h[24:])
	idLen := binary.LittleEndian.Uint16(h[28:])
	total := uint64(recHeaderLen) + uint64(idLen) + uint64(envLen) + uint64(bodyLen)
	if idLen == 0 || idLen > maxIDLen || total > maxRecord {
		return 0, false
	}
	return int(total), true
}

// parseRecord checks and splits a whole record of segment seq. The slices
// of the result point into b.
func parseRecord(b []byte, seq uint64) (logRecord, error) {
	size, ok := parseRecordHeader(b, seq)
	if !ok || len(b) < size {
		return logRecord{}, fmt.Errorf("%w: bad body log record header", ErrCorrupt)
	}
	b = b[:size]
	crc := crc32.Update(crc32Payload(b), castagnoli, b[12:recHeaderLen])
	if crc != binary.LittleEndian.Uint32(b[4:]) {
		return logRecord{}, fmt.Errorf("%w: body log record checksum mismatch", ErrCorrupt)
	}
	envLen := int(binary.LittleEndian.Uint32(b[20:]))
	idLen := int(binary.LittleEndian.Uint16(b[28:]))
	p := b[recHeaderLen:]
	return logRecord{
		id:   string(p[:idLen]),
		env:  p[idLen : idLen+envLen],
		body: p[idLen+envLen:],
		dead: b[8]&flagDead != 0,
		size: size,
	}, nil
}

// logRef locates a record; it is the value of l/<id>.
type logRef struct {
	slot uint32 // segment file
	seq  uint64 // the segment's sequence number when written
	off  uint32 // record offset in the segment
	size uint32 // record size
}

const logRefLen = 20

func (r logRef) encode() []byte {
	b := make([]byte, logRefLen)
	binary.LittleEndian.PutUint32(b, r.slot)
	binary.LittleEndian.PutUint64(b[4:], r.seq)
	binary.LittleEndian.PutUint32(b[12:], r.off)
	binary.LittleEndian.PutUint32(b[16:], r.size)
	return b
}

func decodeLogRef(b []byte) (logRef, error) {
	if len(b) != logRefLen {
		return logRef{}, fmt.Errorf("%w: body reference of %d bytes", ErrCorrupt, len(b))
	}
	return logRef{
		slot: binary.LittleEndian.Uint32(b),
		seq:  binary.LittleEndian.Uint64(b[4:]),
		off:  binary.LittleEndian.Uint32(b[12:]),
		size: binary.LittleEndian.Uint32(b[16:]),
	}, nil
}

// logPos orders records: sequence number, then offset.
func logPos(seq uint64, off int64) uint64 { return seq<<32 | uint64(off) }

func (r logRef) pos() uint64 { return logPos(r.seq, int64(r.off)) }

// readSegHeader returns the sequence number in a segment's header, 0 if the
// header is not valid.
func readSegHeader(f *os.File) uint64 {
	var h [20]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || [8]byte(h[:8]) != segMagic {
		return 0
	}
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(h[8:])
}

func segHeader(seq uint64) []byte {
	h := make([]byte, 20)
	copy(h, segMagic[:])
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	return h
}
