package kafkaproto

import (
	"fmt"
	"math"
	"net"
	"slices"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchRewrite is what a gateway changes in a backend's Fetch response
// before its client sees it. Whatever it says, the session id is 0, the
// aborted transactions list null, the preferred read replica -1 (v11+),
// the nodes' racks null (v16+), and the response's top-level unknown tags
// are dropped (a future field there might carry an address).
type FetchRewrite struct {
	// Names maps the backend names of the topics asked for to the
	// client's (v4–12); a topic not in it is left out.
	Names map[string]string
	// IDs are the ids of the topics asked for (v13+); a topic not in it
	// is left out.
	IDs map[[16]byte]bool
	// Refused are topics the gateway answered itself, placed first.
	Refused []kmsg.FetchResponseTopic
	// Records, if set, says how a partition's record batches change,
	// given its aborted transactions, as edits of records (which it must
	// not modify), and returns the data records the client will see.
	Records func(records []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, edits *RecordEdits) int
	// Broker is the address clients are to use for a node (KIP-951 node
	// endpoints, v16+); false leaves the node out.
	Broker func(node int32) (host string, port int32, ok bool)
}

// FetchCounts is what a rewritten Fetch response holds for the client:
// data records (as FetchRewrite.Records counted them) and record bytes.
type FetchCounts struct {
	Records, Bytes int
}

// RecordEdits are the changes to one partition's record batches: ranges of
// the records replaced by other bytes, in increasing order, not
// overlapping. The zero value is no change.
type RecordEdits struct {
	edits []recordEdit
	with  []byte // every replacement, back to back
}

type recordEdit struct{ lo, hi, wlo, whi int } // records[lo:hi] → with[wlo:whi]

// Replace replaces records[lo:hi] by with (copied). Ranges must come in
// increasing order and not overlap.
func (e *RecordEdits) Replace(lo, hi int, with []byte) {
	copy(e.ReplaceBy(lo, hi, len(with)), with)
}

// ReplaceBy is Replace with n bytes the caller writes into the slice it
// returns (valid until the next change), which saves a copy and keeps them
// off the heap.
func (e *RecordEdits) ReplaceBy(lo, hi, n int) []byte {
	e.edits = append(e.edits, recordEdit{lo, hi, len(e.with), len(e.with) + n})
	e.with = slices.Grow(e.with, n)[:len(e.with)+n]
	return e.with[len(e.with)-n:]
}

// Reset forgets every edit, keeping the memory.
func (e *RecordEdits) Reset() { e.edits, e.with = e.edits[:0], e.with[:0] }

// Len is the length of records once edited.
func (e *RecordEdits) Len(records []byte) int {
	n := len(records)
	for _, ed := range e.edits {
		n += (ed.whi - ed.wlo) - (ed.hi - ed.lo)
	}
	return n
}

// Apply edits records in place and returns the result, records[:Len]; if
// a replacement is longer than what it replaces, the result is a new slice
// instead.
func (e *RecordEdits) Apply(records []byte) []byte {
	for _, ed := range e.edits {
		if ed.whi-ed.wlo > ed.hi-ed.lo {
			// Growing in place would overwrite what is still to be read.
			out := make([]byte, 0, e.Len(records))
			pos := 0
			for _, ed := range e.edits {
				out = append(out, records[pos:ed.lo]...)
				out = append(out, e.with[ed.wlo:ed.whi]...)
				pos = ed.hi
			}
			return append(out, records[pos:]...)
		}
	}
	w, pos := 0, 0
	for _, ed := range e.edits {
		w += copy(records[w:], records[pos:ed.lo]) // memmove: w <= pos
		w += copy(records[w:], e.with[ed.wlo:ed.whi])
		pos = ed.hi
	}
	w += copy(records[w:], records[pos:])
	return records[:w]
}

// fetchHeadRoom is the most the frame's head takes: size, correlation id,
// header tags, throttle, error code, session id, topic count.
const fetchHeadRoom = 4 + 4 + 1 + 4 + 2 + 4 + 5

// Fetch builds the Fetch response frame (size prefix included) a client
// is to get from the backend's response resp (what follows its size
// prefix; the caller checked its correlation id) to a Fetch request of
// version, rewritten by rw, as segments: a header with the client's
// correlation id corr (and, when flexible, an empty tag section), then the
// body walked as kmsg reads it, every length, count and string written
// afresh, the gateway's refused topics first, the topics rw does not list
// left out, and record batches of inlineBelow bytes or more (runs between
// edits) referenced in resp, not copied. The segments are valid until
// resp is reused or the next call. Bytes after the response's last field
// are dropped.
//
// The result is what kmsg encodes from the decoded response rewritten by
// RewriteFetch, byte for byte when the backend encoded every length
// canonically, its tagged fields in ascending key order, each key once and
// only with non-default values, as Kafka does (FuzzSpliceFetch).
func (s *Splicer) Fetch(resp []byte, corr int32, version int16, rw *FetchRewrite) (net.Buffers, FetchCounts, error) {
	s.buf, s.pieces, s.segs = s.buf[:0], s.pieces[:0], s.segs[:0]
	var counts FetchCounts
	if version < 4 || version > 18 {
		return nil, counts, fmt.Errorf("%w: fetch response v%d cannot be spliced", errSplice, version)
	}
	flexible := version >= 12
	r := kbin.Reader{Src: resp}
	r.Int32() // the backend's correlation id
	if flexible {
		if err := skipTags(&r); err != nil {
			return nil, counts, fmt.Errorf("%w: fetch response header tags: %w", errSplice, err)
		}
	}
	throttle := r.Int32()
	var errorCode int16
	if version >= 7 {
		errorCode = r.Int16()
		r.Int32() // the backend's session id
	}
	topics := arrayLen(&r, flexible)
	if !r.Ok() {
		return nil, counts, fmt.Errorf("%w: fetch response: %w", errSplice, r.Complete())
	}

	b := append(s.buf, make([]byte, fetchHeadRoom)...)
	if len(rw.Refused) > 0 {
		b = appendRefusedTopics(b, version, rw.Refused)
	}
	kept := len(rw.Refused)
	var err error
	for range topics {
		var client string
		var show bool
		var id []byte
		if version <= 12 {
			name := readStringSpan(&r, flexible)
			client, show = rw.Names[string(name)]
		} else if id = r.Span(16); r.Ok() {
			show = rw.IDs[[16]byte(id)]
		}
		parts := arrayLen(&r, flexible)
		if !r.Ok() {
			break
		}
		if show {
			kept++
			switch {
			case version >= 13:
				b = append(b, id...)
			case flexible:
				b = kbin.AppendCompactString(b, client)
			default:
				b = kbin.AppendString(b, client)
			}
			b = appendArrayLen(b, parts, flexible)
		}
		for range parts {
			if b, err = s.fetchPartition(b, &r, resp, version, show, rw, &counts); err != nil {
				return nil, counts, err
			}
			if !r.Ok() {
				break
			}
		}
		if flexible {
			if show {
				b, err = copyTags(b, &r)
			} else {
				err = skipTags(&r)
			}
			if err != nil {
				return nil, counts, fmt.Errorf("%w: fetch response topic tags: %w", errSplice, err)
			}
		}
		if !r.Ok() {
			break
		}
	}
	if flexible && r.Ok() {
		if b, err = s.fetchNodes(b, &r, rw); err != nil {
			return nil, counts, err
		}
	}
	if !r.Ok() {
		return nil, counts, fmt.Errorf("%w: fetch response: %w", errSplice, r.Complete())
	}

	// The head, now that the topic count is known, right-aligned in the
	// room left for it.
	var head [fetchHeadRoom]byte
	h := append(head[:0], 0, 0, 0, 0) // size, set below
	h = kbin.AppendInt32(h, corr)
	if flexible {
		h = append(h, 0)
	}
	h = kbin.AppendInt32(h, throttle)
	if version >= 7 {
		h = kbin.AppendInt16(h, errorCode)
		h = kbin.AppendInt32(h, 0) // no fetch session (docs/protocol.md §6)
	}
	h = appendArrayLen(h, kept, flexible)
	start := fetchHeadRoom - len(h)
	s.buf = b
	s.pieces = s.flush(s.pieces)
	s.pieces[0].lo = start
	size := -4
	for _, p := range s.pieces {
		size += p.hi - p.lo
	}
	if size > math.MaxInt32 {
		return nil, counts, fmt.Errorf("%w: %d bytes", errSplice, size)
	}
	kbin.AppendInt32(h[:0], int32(size))
	copy(s.buf[start:], h)
	for _, p := range s.pieces {
		if p.inFrame {
			s.segs = append(s.segs, resp[p.lo:p.hi])
		} else {
			s.segs = append(s.segs, s.buf[p.lo:p.hi])
		}
	}
	return s.segs, counts, nil
}

// fetchPartition reads one partition of a Fetch response and, if show,
// appends it rewritten.
func (s *Splicer) fetchPartition(b []byte, r *kbin.Reader, resp []byte, version int16, show bool, rw *FetchRewrite, counts *FetchCounts) ([]byte, error) {
	flexible := version >= 12
	fixed := 4 + 2 + 8 + 8 // partition, error code, high watermark, last stable offset
	if version >= 5 {
		fixed += 8 // log start offset
	}
	f := r.Span(fixed)
	n := arrayLen(r, flexible) // aborted transactions, null when negative
	if n*16 > len(r.Src) {
		return b, fmt.Errorf("%w: fetch response: %d aborted transactions in %d bytes", errSplice, n, len(r.Src))
	}
	s.aborted = s.aborted[:0]
	for range n {
		s.aborted = append(s.aborted, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: r.Int64(), FirstOffset: r.Int64()})
		if flexible {
			if err := skipTags(r); err != nil {
				return b, fmt.Errorf("%w: fetch response aborted transaction tags: %w", errSplice, err)
			}
		}
	}
	if version >= 11 {
		r.Int32() // preferred read replica
	}
	var records []byte
	if flexible {
		records = r.CompactNullableBytes()
	} else {
		records = r.NullableBytes()
	}
	end := len(resp) - len(r.Src)
	if !r.Ok() {
		return b, nil
	}
	if !show {
		if flexible {
			if err := skipTags(r); err != nil {
				return b, fmt.Errorf("%w: fetch response partition tags: %w", errSplice, err)
			}
		}
		return b, nil
	}
	b = append(b, f...)
	if flexible {
		b = append(b, 0) // aborted transactions: null
	} else {
		b = kbin.AppendInt32(b, -1)
	}
	if version >= 11 {
		b = kbin.AppendInt32(b, -1) // every fetch goes to the leader, through the gateway
	}
	s.edits.Reset()
	if rw.Records != nil && records != nil {
		counts.Records += rw.Records(records, s.aborted, &s.edits)
	}
	size := s.edits.Len(records)
	counts.Bytes += size
	switch {
	case records == nil && flexible:
		b = append(b, 0)
	case records == nil:
		b = kbin.AppendInt32(b, -1)
	case flexible:
		b = kbin.AppendUvarint(b, uint32(size)+1)
	default:
		b = kbin.AppendInt32(b, int32(size))
	}
	lo := end - len(records) // where records lie in resp
	pos := 0
	for _, ed := range s.edits.edits {
		b = s.put(b, resp, lo+pos, lo+ed.lo)
		b = append(b, s.edits.with[ed.wlo:ed.whi]...)
		pos = ed.hi
	}
	b = s.put(b, resp, lo+pos, end)
	if flexible {
		var err error
		if b, err = copyTags(b, r); err != nil {
			return b, fmt.Errorf("%w: fetch response partition tags: %w", errSplice, err)
		}
	}
	return b, nil
}

// put adds frame[lo:hi], copied when short, else referenced.
func (s *Splicer) put(b, frame []byte, lo, hi int) []byte {
	if hi-lo < inlineBelow {
		return append(b, frame[lo:hi]...)
	}
	return s.refer(b, lo, hi)
}

// fetchNodes reads a Fetch response's tag section and appends the
// rewritten one: only the node endpoints (tag 0), through rw.Broker.
func (s *Splicer) fetchNodes(b []byte, r *kbin.Reader, rw *FetchRewrite) ([]byte, error) {
	n := r.Uvarint()
	if !r.Ok() {
		return b, fmt.Errorf("%w: fetch response tags: %w", errSplice, r.Complete())
	}
	if int(n) > len(r.Src)/2 {
		return b, fmt.Errorf("%w: fetch response tags: %w", errSplice, errTagCount)
	}
	var nodes []byte
	for ; n > 0 && r.Ok(); n-- {
		key := r.Uvarint()
		val := r.Span(int(r.Uvarint()))
		if key == 0 && r.Ok() {
			nodes = val // a repeated tag: the last one counts, as for kmsg
		}
	}
	if !r.Ok() || nodes == nil {
		return append(b, 0), nil
	}
	nr := kbin.Reader{Src: nodes}
	count := arrayLen(&nr, true)
	arr := s.scratch[:0]
	kept := 0
	for ; count > 0 && nr.Ok(); count-- {
		node := nr.Int32()
		nr.Span(int(nr.Uvarint()) - 1) // host
		nr.Int32()                     // port
		if l := int(nr.Uvarint()) - 1; l >= 0 {
			nr.Span(l) // rack
		}
		host, port, ok := "", int32(0), false
		if rw.Broker != nil {
			host, port, ok = rw.Broker(node)
		}
		var err error
		if !ok {
			err = skipTags(&nr)
		} else {
			kept++
			arr = kbin.AppendInt32(arr, node)
			arr = kbin.AppendCompactString(arr, host)
			arr = kbin.AppendInt32(arr, port)
			arr = append(arr, 0) // rack: null
			arr, err = copyTags(arr, &nr)
		}
		if err != nil {
			return b, fmt.Errorf("%w: fetch response node endpoint tags: %w", errSplice, err)
		}
	}
	s.scratch = arr
	if err := nr.Complete(); err != nil {
		return b, fmt.Errorf("%w: fetch response node endpoints: %w", errSplice, err)
	}
	if kept == 0 {
		return append(b, 0), nil
	}
	var cnt [5]byte
	c := kbin.AppendCompactArrayLen(cnt[:0], kept)
	b = append(b, 1, 0) // one tag: 0
	b = kbin.AppendUvarint(b, uint32(len(c)+len(arr)))
	b = append(b, c...)
	return append(b, arr...), nil
}

// appendRefusedTopics appends the topics as kmsg encodes them in a Fetch
// response of version: the response's encoding with its other fields cut
// off.
func appendRefusedTopics(b []byte, version int16, topics []kmsg.FetchResponseTopic) []byte {
	resp := kmsg.FetchResponse{Version: version, Topics: topics}
	enc := resp.AppendTo(nil)
	r := kbin.Reader{Src: enc[4:]} // throttle
	if version >= 7 {
		r.Span(6) // error code, session id
	}
	arrayLen(&r, version >= 12)
	body := r.Src
	if version >= 12 {
		body = body[:len(body)-1] // the empty tag section
	}
	return append(b, body...)
}

// readStringSpan reads a (non-null) string as kmsg reads it, without
// copying it.
func readStringSpan(r *kbin.Reader, flexible bool) []byte {
	if flexible {
		return r.Span(int(r.Uvarint()) - 1)
	}
	return r.Span(int(r.Int16()))
}

// RewriteFetch is the decode→rewrite→encode way of what Splicer.Fetch
// does: up changed as rw says, for kmsg to encode. up's record batches are
// edited in place. Splicer.Fetch is checked against it (FuzzSpliceFetch)
// and measured against it (the gateway's benchmarks).
func RewriteFetch(up *kmsg.FetchResponse, rw *FetchRewrite) (*kmsg.FetchResponse, FetchCounts) {
	var counts FetchCounts
	resp := &kmsg.FetchResponse{Version: up.Version, ThrottleMillis: up.ThrottleMillis, ErrorCode: up.ErrorCode}
	resp.Topics = append(resp.Topics, rw.Refused...)
	var edits RecordEdits
	for _, t := range up.Topics {
		if up.Version < 13 {
			client, ok := rw.Names[t.Topic]
			if !ok {
				continue // never asked for: never shown
			}
			t.Topic = client
		} else if !rw.IDs[t.TopicID] {
			continue
		}
		for i := range t.Partitions {
			p := &t.Partitions[i]
			p.PreferredReadReplica = -1
			if rw.Records != nil && p.RecordBatches != nil {
				edits.Reset()
				counts.Records += rw.Records(p.RecordBatches, p.AbortedTransactions, &edits)
				p.RecordBatches = edits.Apply(p.RecordBatches)
			}
			p.AbortedTransactions = nil
			counts.Bytes += len(p.RecordBatches)
		}
		resp.Topics = append(resp.Topics, t)
	}
	for _, b := range up.Brokers {
		if rw.Broker == nil {
			break
		}
		if host, port, ok := rw.Broker(b.NodeID); ok {
			b.Host, b.Port, b.Rack = host, port, nil
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	return resp, counts
}
