package schema

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Hash algorithms of the chain (audit.hash_alg).
const (
	// HashAlgSHA256: audit.hash is the plain SHA-256 of the canonical form.
	// Records leave audit.hash_alg out for it.
	HashAlgSHA256 = "sha256"
	// HashAlgHMACSHA256: audit.hash is the HMAC-SHA256 of the canonical
	// form under the chain's secret key.
	HashAlgHMACSHA256 = "hmac-sha256"
)

// Chain seals the records of one execution environment into a hash chain:
// each gets the next audit.seq, the previous record's hash as
// audit.prev_hash, and its own audit.hash over its canonical form. A reader
// can then tell a lost record (a missing seq) from an altered one (a hash
// that does not match) and an inserted or reordered one (a prev_hash that
// does not match).
//
// The zero Chain hashes with plain SHA-256, which anyone can recompute; a
// Chain made by NewChain with a key uses HMAC-SHA256, so that only a holder
// of the key can make records that verify. Not safe for concurrent use.
type Chain struct {
	seq  int64
	prev string
	key  []byte // nil: plain SHA-256
}

// NewChain returns a chain keyed with key (HMAC-SHA256), or a plain
// SHA-256 chain, the same as the zero Chain, when key is empty. The key is
// copied.
func NewChain(key []byte) Chain {
	if len(key) == 0 {
		return Chain{}
	}
	return Chain{key: bytes.Clone(key)}
}

// Seal numbers and hashes rec and returns its JSON encoding.
func (c *Chain) Seal(rec *Record) ([]byte, error) {
	c.seq++
	rec.Audit.Seq, rec.Audit.PrevHash, rec.Audit.Hash = c.seq, c.prev, ""
	rec.Audit.HashAlg = ""
	if c.key != nil {
		rec.Audit.HashAlg = HashAlgHMACSHA256
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	h, err := hashRecord(c.key, b)
	if err != nil {
		return nil, err
	}
	rec.Audit.Hash, c.prev = h, h
	return json.Marshal(rec)
}

// Last returns the seq given to the last sealed record.
func (c *Chain) Last() int64 { return c.seq }

// HashRecord returns the hash a record of a plain chain must carry as
// audit.hash: the hex SHA-256 of its canonical form, the record's JSON with
// audit.hash left out, object keys sorted, no insignificant space, and
// numbers and strings as their values (so that a SIEM that re-encodes a
// record does not change its hash).
func HashRecord(record []byte) (string, error) { return hashRecord(nil, record) }

// hashRecord returns the hex SHA-256 of record's canonical form, or its hex
// HMAC-SHA256 under key when key is not nil.
func hashRecord(key, record []byte) (string, error) {
	canon, err := Canonical(record)
	if err != nil {
		return "", err
	}
	if key == nil {
		sum := sha256.Sum256(canon)
		return hex.EncodeToString(sum[:]), nil
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(canon)
	return hex.EncodeToString(mac.Sum(nil)), nil
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
