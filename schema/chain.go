package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Chain seals the records of one execution environment into a hash chain:
// each gets the next audit.seq, the previous record's hash as
// audit.prev_hash, and its own audit.hash, the SHA-256 of its canonical
// form. A reader can then tell a lost record (a missing seq) from an
// altered one (a hash that does not match) and an inserted or reordered
// one (a prev_hash that does not match). Not safe for concurrent use.
type Chain struct {
	seq  int64
	prev string
}

// Seal numbers and hashes rec and returns its JSON encoding.
func (c *Chain) Seal(rec *Record) ([]byte, error) {
	c.seq++
	rec.Audit.Seq, rec.Audit.PrevHash, rec.Audit.Hash = c.seq, c.prev, ""
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	h, err := HashRecord(b)
	if err != nil {
		return nil, err
	}
	rec.Audit.Hash, c.prev = h, h
	return json.Marshal(rec)
}

// Last returns the seq given to the last sealed record.
func (c *Chain) Last() int64 { return c.seq }

// HashRecord returns the hash a record must carry as audit.hash: the hex
// SHA-256 of its canonical form, the record's JSON with audit.hash left
// out, object keys sorted, no insignificant space, and numbers and strings
// as their values (so that a SIEM that re-encodes a record does not change
// its hash).
func HashRecord(record []byte) (string, error) {
	canon, err := Canonical(record)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// Canonical returns the canonical form of a record's JSON (see HashRecord).
func Canonical(record []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical: %w", err)
	}
	if audit, ok := v["audit"].(map[string]any); ok {
		delete(audit, "hash")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("canonical: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
