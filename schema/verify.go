package schema

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// SeqRange is a closed range of audit.seq numbers.
type SeqRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Break is a place where the hash chain does not hold.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// EnvReport is what Verify found for one execution environment.
type EnvReport struct {
	EnvID   string `json:"env_id"`
	Records int    `json:"records"`
	LastSeq int64  `json:"last_seq"`
	// Accounted are missing seq ranges covered by coverage-gap records
	// (this environment's own, and those of other environments that name
	// it in coverage_gap.env_id), including ranges past LastSeq that a gap
	// reports lost; Unaccounted are the missing ranges no gap covers.
	Accounted   []SeqRange `json:"accounted,omitempty"`
	Unaccounted []SeqRange `json:"unaccounted,omitempty"`
	// Duplicates counts records seen more than once (the same event.id and
	// hash): harmless re-deliveries a SIEM can deduplicate.
	Duplicates int     `json:"duplicates"`
	Breaks     []Break `json:"breaks,omitempty"`
	// Unsealed counts records without audit.seq (not part of the chain).
	Unsealed int `json:"unsealed,omitempty"`
	// Closed is set when the environment's shutdown record is present: no
	// record can be missing after it unnoticed.
	Closed bool `json:"closed"`
	// HashAlg is the chain's hash algorithm, that of its first record:
	// HashAlgSHA256 or HashAlgHMACSHA256.
	HashAlg string `json:"hash_alg,omitempty"`
	// HashesUnchecked counts keyed records whose hash could not be checked
	// because the verifier has no key: their seq and prev_hash links were
	// checked, their content was not. Not an error by itself.
	HashesUnchecked int `json:"hashes_unchecked,omitempty"`
}

// OK reports whether the environment's trail is complete and unaltered as
// far as the records show.
func (e EnvReport) OK() bool { return len(e.Unaccounted) == 0 && len(e.Breaks) == 0 }

// Verifier checks records for completeness (every audit.seq present or
// accounted for by a coverage gap) and integrity (every hash and link of
// the chain holds), per environment. Add records in any order.
//
// A verifier made by NewVerifier checks the hashes of plain chains and only
// the links of keyed ones (see EnvReport.HashesUnchecked). One made by
// NewVerifierWithKey checks keyed hashes with its key and expects every
// record to be keyed: a plain hash, which anyone can recompute, is a break.
type Verifier struct {
	envs map[string]*envState
	key  []byte // nil: no key
	// Invalid counts lines that were not records.
	Invalid int
}

type envState struct {
	bySeq    map[int64]seen
	gaps     []SeqRange
	unsealed int
	dups     int
	breaks   []Break
	closed   bool
}

type seen struct {
	id, hash, prev string
	alg            string // HashAlgSHA256 or what the record says
}

// NewVerifier returns an empty verifier without a key.
func NewVerifier() *Verifier { return &Verifier{envs: map[string]*envState{}} }

// NewVerifierWithKey returns an empty verifier that checks keyed chains
// with key (it is copied); with an empty key it is NewVerifier.
func NewVerifierWithKey(key []byte) *Verifier {
	v := NewVerifier()
	if len(key) > 0 {
		v.key = bytes.Clone(key)
	}
	return v
}

// env returns the state of environment id, made on first use.
func (v *Verifier) env(id string) *envState {
	e := v.envs[id]
	if e == nil {
		e = &envState{bySeq: map[int64]seen{}}
		v.envs[id] = e
	}
	return e
}

// Add checks one record (its JSON, as stored or as a SIEM returns it).
func (v *Verifier) Add(raw []byte) {
	var r struct {
		Event struct {
			ID     string `json:"id"`
			Action string `json:"action"`
		} `json:"event"`
		Audit struct {
			EnvID    string `json:"env_id"`
			Seq      int64  `json:"seq"`
			Hash     string `json:"hash"`
			HashAlg  string `json:"hash_alg"`
			PrevHash string `json:"prev_hash"`
		} `json:"audit"`
		Gap *struct {
			SeqFrom int64  `json:"seq_from"`
			SeqTo   int64  `json:"seq_to"`
			EnvID   string `json:"env_id"`
		} `json:"coverage_gap"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Audit.EnvID == "" {
		v.Invalid++
		return
	}
	e := v.env(r.Audit.EnvID)
	if g := r.Gap; g != nil && g.SeqFrom > 0 && g.SeqTo >= g.SeqFrom {
		lost := e // the seqs are this environment's, or another's
		if g.EnvID != "" {
			lost = v.env(g.EnvID)
		}
		lost.gaps = append(lost.gaps, SeqRange{g.SeqFrom, g.SeqTo})
	}
	if r.Event.Action == ActionShutdown {
		e.closed = true
	}
	if r.Audit.Seq <= 0 {
		e.unsealed++
		return
	}
	alg := cmp.Or(r.Audit.HashAlg, HashAlgSHA256)
	if reason := v.checkHash(raw, alg, r.Audit.Hash); reason != "" {
		e.breaks = append(e.breaks, Break{r.Audit.Seq, reason})
	}
	s := seen{r.Event.ID, r.Audit.Hash, r.Audit.PrevHash, alg}
	if old, dup := e.bySeq[r.Audit.Seq]; dup {
		if old == s {
			e.dups++
		} else {
			e.breaks = append(e.breaks, Break{r.Audit.Seq, "two different records with the same seq"})
		}
		return
	}
	e.bySeq[r.Audit.Seq] = s
}

// checkHash returns why a record's hash does not hold, or "" when it holds
// or cannot be checked (a keyed record and no key).
func (v *Verifier) checkHash(raw []byte, alg, hash string) string {
	switch alg {
	case HashAlgSHA256:
		if v.key != nil {
			return "plain SHA-256 hash where the chain is keyed: forged, or not sealed with the key"
		}
		if h, err := hashRecord(nil, raw); err != nil || h != hash {
			return "hash does not match the record: altered"
		}
	case HashAlgHMACSHA256:
		if v.key == nil {
			return ""
		}
		if h, err := hashRecord(v.key, raw); err != nil || !hmac.Equal([]byte(h), []byte(hash)) {
			return "HMAC does not match the record: altered, or sealed with another key"
		}
	default:
		return fmt.Sprintf("unknown hash_alg %.40q", alg)
	}
	return ""
}

// Report returns the findings, environments in a stable order.
func (v *Verifier) Report() []EnvReport {
	var out []EnvReport
	for id, e := range v.envs {
		rep := EnvReport{EnvID: id, Records: len(e.bySeq), Duplicates: e.dups, Unsealed: e.unsealed, Closed: e.closed}
		rep.Breaks = append(rep.Breaks, e.breaks...)
		seqs := slices.Sorted(maps.Keys(e.bySeq))
		if len(seqs) > 0 {
			rep.LastSeq = seqs[len(seqs)-1]
			rep.HashAlg = e.bySeq[seqs[0]].alg
		}
		var missing []SeqRange
		next := int64(1) // the seq expected next
		for _, seq := range seqs {
			if seq > next {
				missing = append(missing, SeqRange{next, seq - 1})
			}
			next = seq + 1
			cur := e.bySeq[seq]
			prev, hasPrev := e.bySeq[seq-1]
			switch {
			case seq == 1 && cur.prev != "":
				rep.Breaks = append(rep.Breaks, Break{seq, "the first record links to an earlier one"})
			case hasPrev && cur.prev != prev.hash:
				rep.Breaks = append(rep.Breaks, Break{seq, fmt.Sprintf("prev_hash does not match record %d: inserted or reordered", seq-1)})
			}
			switch {
			case cur.alg != rep.HashAlg && v.key == nil: // with a key, checkHash reported it
				rep.Breaks = append(rep.Breaks, Break{seq, fmt.Sprintf("hash_alg %.40q differs from the chain's %q: spliced or downgraded", cur.alg, rep.HashAlg)})
			case cur.alg == HashAlgHMACSHA256 && v.key == nil:
				rep.HashesUnchecked++
			}
		}
		for _, r := range missing {
			rest := uncovered(r, e.gaps)
			if len(rest) == 0 {
				rep.Accounted = append(rep.Accounted, r)
			} else {
				rep.Unaccounted = append(rep.Unaccounted, r)
			}
		}
		// Losses reported past the last record present are accounted for
		// too (a reset environment's last records, lost from the spool).
		rep.Accounted = append(rep.Accounted, after(rep.LastSeq, e.gaps)...)
		slices.SortFunc(rep.Breaks, func(a, b Break) int { return cmp.Compare(a.Seq, b.Seq) })
		out = append(out, rep)
	}
	slices.SortFunc(out, func(a, b EnvReport) int { return cmp.Compare(a.EnvID, b.EnvID) })
	return out
}

// after returns the parts of the gap ranges past seq last, sorted and
// merged.
func after(last int64, gaps []SeqRange) []SeqRange {
	sorted := slices.Clone(gaps)
	slices.SortFunc(sorted, func(a, b SeqRange) int { return cmp.Compare(a.From, b.From) })
	var out []SeqRange
	for _, g := range sorted {
		if g.To <= last {
			continue
		}
		g.From = max(g.From, last+1)
		if n := len(out); n > 0 && g.From-1 <= out[n-1].To { // overlaps or touches
			out[n-1].To = max(out[n-1].To, g.To)
			continue
		}
		out = append(out, g)
	}
	return out
}

// uncovered returns the parts of r that no gap range covers.
func uncovered(r SeqRange, gaps []SeqRange) []SeqRange {
	sorted := slices.Clone(gaps)
	slices.SortFunc(sorted, func(a, b SeqRange) int { return cmp.Compare(a.From, b.From) })
	var out []SeqRange
	next := r.From
	for _, g := range sorted {
		if g.To < next || g.From > r.To {
			continue
		}
		if g.From > next {
			out = append(out, SeqRange{next, g.From - 1})
		}
		if g.To >= r.To {
			return out
		}
		next = max(next, g.To+1)
	}
	return append(out, SeqRange{next, r.To})
}
