package schema

import "encoding/json"

// EnvSeqs is a range of audit.seq numbers of one environment, with counts.
type EnvSeqs struct {
	// EnvID is the records' audit.env_id; "" for records that could not be
	// parsed or carry no env_id or no seq.
	EnvID string
	// From and To are the lowest and highest seq among the records (0 for
	// the EnvID "" entry). Seqs in between need not all be there.
	From, To int64
	// Records counts the records, Bytes their total encoded size.
	Records, Bytes int64
}

// SeqsOf groups encoded records (one JSON object each) by audit.env_id and
// returns, per environment in order of first appearance, the seq range they
// cover, how many there are and their total size. Records that cannot be
// parsed or carry no seq (or no env_id) are counted in an entry with EnvID
// "" and From/To 0. It is meant for the records of a loss, to name them in
// coverage_gap records, and never fails: garbage is counted, not rejected.
func SeqsOf(records [][]byte) []EnvSeqs {
	var out []EnvSeqs
	index := map[string]int{} // EnvID -> position in out
	for _, rec := range records {
		var r struct {
			Audit struct {
				EnvID string `json:"env_id"`
				Seq   int64  `json:"seq"`
			} `json:"audit"`
		}
		id, seq := "", int64(0)
		if json.Unmarshal(rec, &r) == nil && r.Audit.EnvID != "" && r.Audit.Seq > 0 {
			id, seq = r.Audit.EnvID, r.Audit.Seq
		}
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, EnvSeqs{EnvID: id, From: seq, To: seq})
		}
		e := &out[i]
		e.Records++
		e.Bytes += int64(len(rec))
		e.From, e.To = min(e.From, seq), max(e.To, seq)
	}
	return out
}
