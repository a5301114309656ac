package kafkaproto

import (
	"errors"
	"fmt"
	"math"
	"net"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProduceRoute is where one topic of a client's Produce request goes: the
// name the backend knows it by, and which of its partitions, in request
// order, are forwarded. A topic none of whose partitions is kept is left
// out.
type ProduceRoute struct {
	Topic string
	Keep  []bool
}

// Splicer builds the requests a gateway forwards from the frames its
// clients sent (Produce), and the answers its clients get from the
// backend's (Fetch), without decoding and re-encoding the record batches.
// Its buffers are reused from call to call: one Splicer per writer.
type Splicer struct {
	buf    []byte  // the bytes the splice writes itself
	pieces []piece // the request, in order: parts of buf or of the client's frame
	segs   net.Buffers

	// Fetch's scratch space.
	aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction
	edits   RecordEdits
	scratch []byte
}

// piece is a part of the request being built: buf[lo:hi], or frame[lo:hi]
// when inFrame. Offsets, not slices, because buf may grow meanwhile.
type piece struct {
	lo, hi  int
	inFrame bool
}

// inlineBelow: a record batch shorter than this is copied next to the
// bytes around it rather than referenced, since each segment costs a write
// (and, to a TLS backend, a TLS record).
const inlineBelow = 4 << 10

// errSplice marks a frame that does not match its decoded request.
var errSplice = errors.New("splicing produce request")

// Produce builds the Produce request to forward from a client's frame
// (header and body, no size prefix) as the frame's segments, size prefix
// included: a new header (corr, clientID and, when flexible, an empty tag
// section, as the client's header tags are not forwarded), then the body
// with the topics renamed and filtered by routes (one per topic of the
// request, in order). Every length, count and string is encoded afresh
// (canonically); what comes from the client's bytes is the acks, the
// timeout, partition indexes, the record batches and the tagged fields'
// values. Large record batches are referenced in frame, not copied, so the
// segments are valid until frame is reused or the next call. Bytes after
// the request's last field are dropped.
//
// The result is the request kmsg would encode from the decoded request with
// the same changes (RewriteProduce), byte for byte when the client encoded
// every length canonically and its tagged fields in ascending key order,
// each key once (FuzzSpliceProduce).
func (s *Splicer) Produce(frame []byte, corr int32, clientID string, routes []ProduceRoute) (net.Buffers, error) {
	s.buf, s.pieces, s.segs = s.buf[:0], s.pieces[:0], s.segs[:0]
	r := kbin.Reader{Src: frame}
	key, version := r.Int16(), r.Int16()
	r.Int32() // the client's correlation id
	if n := r.Int16(); n > 0 {
		r.Span(int(n)) // the client id; null when negative
	}
	if !r.Ok() {
		return nil, fmt.Errorf("%w: header: %w", errSplice, r.Complete())
	}
	if key != int16(kmsg.Produce) || version < 3 || version > 12 {
		// v13 names topics by id; v0–2 have no transactional id.
		return nil, fmt.Errorf("%w: %s v%d cannot be spliced", errSplice, kmsg.NameForKey(key), version)
	}
	flexible := version >= 9
	if flexible {
		if err := skipTags(&r); err != nil {
			return nil, fmt.Errorf("%w: header tags: %w", errSplice, err)
		}
	}
	b := append(s.buf, 0, 0, 0, 0) // size, set at the end
	b = kbin.AppendInt16(b, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	if flexible {
		b = append(b, 0)
	}

	if flexible {
		b = kbin.AppendCompactNullableString(b, r.CompactNullableString())
	} else {
		b = kbin.AppendNullableString(b, r.NullableString())
	}
	b = kbin.AppendInt16(b, r.Int16()) // acks
	b = kbin.AppendInt32(b, r.Int32()) // timeout
	topics := arrayLen(&r, flexible)
	if !r.Ok() {
		return nil, fmt.Errorf("%w: %w", errSplice, r.Complete())
	}
	if topics != len(routes) {
		return nil, fmt.Errorf("%w: %d topics, %d routes", errSplice, topics, len(routes))
	}
	kept := 0
	for _, rt := range routes {
		if keeps(rt.Keep) > 0 {
			kept++
		}
	}
	b = appendArrayLen(b, kept, flexible)
	for _, rt := range routes {
		skipString(&r, flexible) // the client's name for the topic
		parts := arrayLen(&r, flexible)
		if !r.Ok() {
			return nil, fmt.Errorf("%w: %w", errSplice, r.Complete())
		}
		if parts != len(rt.Keep) {
			return nil, fmt.Errorf("%w: topic of %d partitions, route of %d", errSplice, parts, len(rt.Keep))
		}
		n := keeps(rt.Keep)
		if n > 0 {
			if flexible {
				b = kbin.AppendCompactString(b, rt.Topic)
			} else {
				b = kbin.AppendString(b, rt.Topic)
			}
			b = appendArrayLen(b, n, flexible)
		}
		for _, keep := range rt.Keep {
			partition := r.Int32()
			var records []byte
			if flexible {
				records = r.CompactNullableBytes()
			} else {
				records = r.NullableBytes()
			}
			end := len(frame) - len(r.Src)
			if !keep {
				if flexible {
					if err := skipTags(&r); err != nil {
						return nil, fmt.Errorf("%w: partition tags: %w", errSplice, err)
					}
				}
				continue
			}
			b = kbin.AppendInt32(b, partition)
			if flexible {
				b = appendCompactBytesLen(b, records)
			} else {
				b = appendBytesLen(b, records)
			}
			if len(records) < inlineBelow {
				b = append(b, records...)
			} else {
				b = s.refer(b, end-len(records), end)
			}
			if flexible {
				var err error
				if b, err = copyTags(b, &r); err != nil {
					return nil, fmt.Errorf("%w: partition tags: %w", errSplice, err)
				}
			}
		}
		if flexible {
			var err error
			if n > 0 {
				b, err = copyTags(b, &r)
			} else {
				err = skipTags(&r)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: topic tags: %w", errSplice, err)
			}
		}
	}
	if flexible {
		var err error
		if b, err = copyTags(b, &r); err != nil {
			return nil, fmt.Errorf("%w: request tags: %w", errSplice, err)
		}
	}
	if !r.Ok() {
		return nil, fmt.Errorf("%w: %w", errSplice, r.Complete())
	}
	s.buf = b
	s.pieces = s.flush(s.pieces)
	size := -4
	for _, p := range s.pieces {
		size += p.hi - p.lo
	}
	if size > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d bytes", errSplice, size)
	}
	kbin.AppendInt32(s.buf[:0], int32(size))
	for _, p := range s.pieces {
		if p.inFrame {
			s.segs = append(s.segs, frame[p.lo:p.hi])
		} else {
			s.segs = append(s.segs, s.buf[p.lo:p.hi])
		}
	}
	return s.segs, nil
}

// refer ends the piece of buf written so far and adds frame[lo:hi] after it.
func (s *Splicer) refer(b []byte, lo, hi int) []byte {
	s.buf = b
	s.pieces = append(s.flush(s.pieces), piece{lo: lo, hi: hi, inFrame: true})
	return b
}

// flush adds the bytes of buf written since the last piece of buf.
func (s *Splicer) flush(ps []piece) []piece {
	lo := 0
	for i := len(ps) - 1; i >= 0; i-- {
		if !ps[i].inFrame {
			lo = ps[i].hi
			break
		}
	}
	if lo < len(s.buf) {
		ps = append(ps, piece{lo: lo, hi: len(s.buf)})
	}
	return ps
}

// skipString reads past a string as kmsg reads it, without copying it.
func skipString(r *kbin.Reader, flexible bool) {
	if flexible {
		r.Span(int(r.Uvarint()) - 1)
	} else {
		r.Span(int(r.Int16()))
	}
}

func keeps(keep []bool) int {
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	return n
}

// arrayLen reads an array's length as kmsg does: a null or negative length
// is an empty array.
func arrayLen(r *kbin.Reader, flexible bool) int {
	var n int32
	if flexible {
		n = r.CompactArrayLen()
	} else {
		n = r.ArrayLen()
	}
	return max(int(n), 0)
}

func appendArrayLen(b []byte, n int, flexible bool) []byte {
	if flexible {
		return kbin.AppendCompactArrayLen(b, n)
	}
	return kbin.AppendArrayLen(b, n)
}

// appendBytesLen is the length of nullable bytes (-1 for null).
func appendBytesLen(b, v []byte) []byte {
	if v == nil {
		return kbin.AppendInt32(b, -1)
	}
	return kbin.AppendInt32(b, int32(len(v)))
}

// appendCompactBytesLen is the length of compact nullable bytes (0 for
// null, else the length plus one).
func appendCompactBytesLen(b, v []byte) []byte {
	if v == nil {
		return kbin.AppendUvarint(b, 0)
	}
	return kbin.AppendUvarint(b, uint32(len(v))+1)
}

// copyTags reads a tag section and appends it encoded afresh, keys and
// values as they came.
func copyTags(b []byte, r *kbin.Reader) ([]byte, error) {
	n := r.Uvarint()
	if !r.Ok() {
		return b, r.Complete()
	}
	if int(n) > len(r.Src)/2 {
		return b, errTagCount
	}
	b = kbin.AppendUvarint(b, n)
	for ; n > 0 && r.Ok(); n-- {
		key := r.Uvarint()
		val := r.Span(int(r.Uvarint()))
		b = kbin.AppendUvarint(b, key)
		b = kbin.AppendUvarint(b, uint32(len(val)))
		b = append(b, val...)
	}
	return b, r.Complete()
}

// RewriteProduce is the decode→rewrite→encode way of what Splicer.Produce
// does: req's topics renamed and filtered by routes, as a new request for
// kmsg to encode. Splicer.Produce is checked against it (FuzzSpliceProduce)
// and measured against it (the gateway's benchmarks).
func RewriteProduce(req *kmsg.ProduceRequest, routes []ProduceRoute) (*kmsg.ProduceRequest, error) {
	if len(routes) != len(req.Topics) {
		return nil, fmt.Errorf("%d topics, %d routes", len(req.Topics), len(routes))
	}
	fwd := *req
	fwd.Topics = nil
	for i, t := range req.Topics {
		rt := routes[i]
		if len(rt.Keep) != len(t.Partitions) {
			return nil, fmt.Errorf("topic of %d partitions, route of %d", len(t.Partitions), len(rt.Keep))
		}
		ft := kmsg.ProduceRequestTopic{Topic: rt.Topic, UnknownTags: t.UnknownTags}
		for j, p := range t.Partitions {
			if rt.Keep[j] {
				ft.Partitions = append(ft.Partitions, p)
			}
		}
		if len(ft.Partitions) > 0 {
			fwd.Topics = append(fwd.Topics, ft)
		}
	}
	return &fwd, nil
}
