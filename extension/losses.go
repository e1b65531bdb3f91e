package extension

import (
	"cmp"
	"encoding/json"
	"slices"
)

// lossKey groups lost records into one coverage-gap record: per sink,
// reason, source ("extension" or "lambda") and environment ("" for this
// one; records spooled before a reset belong to the previous one).
type lossKey struct{ sink, reason, source, env string }

// loss sums lost records: how many, their size, and the range of their
// audit.seq numbers (0 when they had none).
type loss struct {
	from, to, records, bytes int64
	detail                   string
}

// lossLocked adds lost records to the loss of k.
func (p *pipeline) lossLocked(k lossKey, from, to, records, bytes int64, detail string) {
	if k.env == p.envID {
		k.env = ""
	}
	l := p.losses[k]
	if l == nil {
		l = &loss{}
		p.losses[k] = l
	}
	if from > 0 && (l.from == 0 || from < l.from) {
		l.from = from
	}
	l.to = max(l.to, to)
	l.records += records
	l.bytes += bytes
	l.detail = cmp.Or(detail, l.detail)
}

// lostLocked notes the loss of encoded records. A lost coverage-gap record
// hands on what it accounted for, under its own reason, so that a loss is
// never left unaccounted even when the record telling it is lost in turn
// (as when a full spool drops its oldest records, gap records among them).
func (p *pipeline) lostLocked(sink, reason string, records [][]byte, detail string) {
	for _, b := range records {
		var r struct {
			Audit struct {
				EnvID string `json:"env_id"`
				Seq   int64  `json:"seq"`
			} `json:"audit"`
			Gap *struct {
				Reason  string `json:"reason"`
				Source  string `json:"source"`
				Sink    string `json:"sink"`
				EnvID   string `json:"env_id"`
				SeqFrom int64  `json:"seq_from"`
				SeqTo   int64  `json:"seq_to"`
				Records int64  `json:"records"`
				Bytes   int64  `json:"bytes"`
				Detail  string `json:"detail"`
			} `json:"coverage_gap"`
		}
		if json.Unmarshal(b, &r) != nil || r.Audit.Seq <= 0 {
			p.lossLocked(lossKey{sink, reason, "extension", ""}, 0, 0, 1, int64(len(b)), detail)
			continue
		}
		p.lossLocked(lossKey{sink, reason, "extension", r.Audit.EnvID}, r.Audit.Seq, r.Audit.Seq, 1, int64(len(b)), detail)
		if g := r.Gap; g != nil {
			env := cmp.Or(g.EnvID, r.Audit.EnvID)
			p.lossLocked(lossKey{g.Sink, g.Reason, g.Source, env}, g.SeqFrom, g.SeqTo, g.Records, g.Bytes, g.Detail)
		}
	}
}

// lossGapsLocked writes each pending loss into one coverage-gap record. They
// are few (per sink, reason and environment), so they bypass maxHeldGaps:
// summing them would lose their seq ranges.
func (p *pipeline) lossGapsLocked() {
	keys := make([]lossKey, 0, len(p.losses))
	for k := range p.losses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b lossKey) int {
		return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.sink, b.sink), cmp.Compare(a.reason, b.reason), cmp.Compare(a.source, b.source))
	})
	for _, k := range keys {
		l := p.losses[k]
		delete(p.losses, k)
		rec := p.builder.Gap(k.reason, k.source, l.records, l.bytes, l.detail, p.now())
		rec.Gap.Sink, rec.Gap.SeqFrom, rec.Gap.SeqTo, rec.Gap.EnvID = k.sink, l.from, l.to, k.env
		if b, err := p.chain.Seal(&rec); err == nil {
			p.gaps = append(p.gaps, b)
		}
	}
}
