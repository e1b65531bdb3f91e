package schema

import (
	"cmp"
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
	// Accounted are missing seq ranges covered by coverage-gap records;
	// Unaccounted are the others.
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
}

// OK reports whether the environment's trail is complete and unaltered as
// far as the records show.
func (e EnvReport) OK() bool { return len(e.Unaccounted) == 0 && len(e.Breaks) == 0 }

// Verifier checks records for completeness (every audit.seq present or
// accounted for by a coverage gap) and integrity (every hash and link of
// the chain holds), per environment. Add records in any order.
type Verifier struct {
	envs map[string]*envState
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
}

// NewVerifier returns an empty verifier.
func NewVerifier() *Verifier { return &Verifier{envs: map[string]*envState{}} }

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
			PrevHash string `json:"prev_hash"`
		} `json:"audit"`
		Gap *struct {
			SeqFrom int64 `json:"seq_from"`
			SeqTo   int64 `json:"seq_to"`
		} `json:"coverage_gap"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Audit.EnvID == "" {
		v.Invalid++
		return
	}
	e := v.envs[r.Audit.EnvID]
	if e == nil {
		e = &envState{bySeq: map[int64]seen{}}
		v.envs[r.Audit.EnvID] = e
	}
	if r.Gap != nil && r.Gap.SeqFrom > 0 && r.Gap.SeqTo >= r.Gap.SeqFrom {
		e.gaps = append(e.gaps, SeqRange{r.Gap.SeqFrom, r.Gap.SeqTo})
	}
	if r.Event.Action == ActionShutdown {
		e.closed = true
	}
	if r.Audit.Seq <= 0 {
		e.unsealed++
		return
	}
	if h, err := HashRecord(raw); err != nil || h != r.Audit.Hash {
		e.breaks = append(e.breaks, Break{r.Audit.Seq, "hash does not match the record: altered"})
	}
	s := seen{r.Event.ID, r.Audit.Hash, r.Audit.PrevHash}
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

// Report returns the findings, environments in a stable order.
func (v *Verifier) Report() []EnvReport {
	var out []EnvReport
	for id, e := range v.envs {
		rep := EnvReport{EnvID: id, Records: len(e.bySeq), Duplicates: e.dups, Unsealed: e.unsealed, Closed: e.closed}
		rep.Breaks = append(rep.Breaks, e.breaks...)
		seqs := slices.Sorted(maps.Keys(e.bySeq))
		if len(seqs) > 0 {
			rep.LastSeq = seqs[len(seqs)-1]
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
		}
		for _, r := range missing {
			rest := uncovered(r, e.gaps)
			if len(rest) == 0 {
				rep.Accounted = append(rep.Accounted, r)
			} else {
				rep.Unaccounted = append(rep.Unaccounted, r)
			}
		}
		slices.SortFunc(rep.Breaks, func(a, b Break) int { return cmp.Compare(a.Seq, b.Seq) })
		out = append(out, rep)
	}
	slices.SortFunc(out, func(a, b EnvReport) int { return cmp.Compare(a.EnvID, b.EnvID) })
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
		next = max(next, g.To+1)
		if next > r.To {
			return out
		}
	}
	return append(out, SeqRange{next, r.To})
}
