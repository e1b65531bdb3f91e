package elasticsearch

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/audittrail/audittrail/sinks"
)

// mappings is the body of the component template: the mappings of every
// field of the audit record (schema/README.md). Strings are keyword
// (exact, aggregatable), free text (event.reason, error.message,
// log.message, coverage_gap.detail) is text, times are date, integers
// long, other numbers double. client.address is a keyword, because with
// AUDITTRAIL_PSEUDONYMIZE_KEY it holds a pseudonym rather than an IP
// address; client.address.ip indexes it as an ip (CIDR queries) when it is
// one. Fields of later schema versions and the recorded request headers are
// mapped as they come, strings as keyword.
//
//go:embed template.json
var mappings []byte

// Names of the templates InstallTemplate puts.
const (
	// ComponentTemplate is the component template holding the mappings,
	// shared by every data stream of audit records.
	ComponentTemplate = "audittrail-mappings"
	// templatePriority wins over Elasticsearch's built-in "logs" index
	// template (logs-*-*, priority 100).
	templatePriority = 200
	// templateVersion is the version of both templates, for operators
	// (GET _index_template shows it).
	templateVersion = 1
)

// InstallTemplate puts, with cfg's URL and credentials, the component
// template ComponentTemplate (the mappings of template.json) and an index
// template named after cfg.DataStream that matches exactly that data
// stream, is composed of the mappings and makes it a data stream, with a
// priority above the built-in logs-*-* template. Elasticsearch and
// OpenSearch then create the data stream with these mappings on the first
// record. Both PUTs overwrite what was there, so running it again (after an
// upgrade, say) is harmless; a data stream that exists already takes the
// new mappings at its next rollover. The URL's query parameters are not
// sent: they are for _bulk.
//
// A non-2xx answer is an error classed as [sinks.HTTPError] classes it; so
// is an answer with "acknowledged": false, in which the cluster did not
// confirm the change in time. The requests follow Elasticsearch's
// documented API, which OpenSearch shares; OpenSearch Serverless was not
// tried.
func InstallTemplate(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	cfg = s.cfg
	base := *s.base
	base.RawQuery = ""
	if err := s.put(ctx, base.JoinPath("_component_template", ComponentTemplate).String(), mappings); err != nil {
		return fmt.Errorf("elasticsearch: component template %s: %w", ComponentTemplate, err)
	}
	if err := s.put(ctx, base.JoinPath("_index_template", cfg.DataStream).String(), indexTemplate(cfg.DataStream)); err != nil {
		return fmt.Errorf("elasticsearch: index template %s: %w", cfg.DataStream, err)
	}
	return nil
}

// indexTemplate is the body of the index template for the data stream.
func indexTemplate(stream string) []byte {
	b, _ := json.Marshal(struct { // plain strings and numbers always marshal
		IndexPatterns []string          `json:"index_patterns"`
		DataStream    struct{}          `json:"data_stream"`
		ComposedOf    []string          `json:"composed_of"`
		Priority      int               `json:"priority"`
		Version       int               `json:"version"`
		Meta          map[string]string `json:"_meta"`
	}{
		IndexPatterns: []string{stream},
		ComposedOf:    []string{ComponentTemplate},
		Priority:      templatePriority,
		Version:       templateVersion,
		Meta:          map[string]string{"description": "audittrail audit records", "managed_by": "audittrail"},
	})
	return b
}

// put sends one JSON document and checks the answer.
func (s *Sink) put(ctx context.Context, u string, body []byte) error {
	resp, conn, err := s.do(ctx, http.MethodPut, u, "application/json", body, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	defer drain(resp.Body, conn)
	return classifyAck(resp)
}

// classifyAck classifies the answer to a template PUT.
func classifyAck(resp *http.Response) error {
	if err := sinks.HTTPError(resp); err != nil {
		return err
	}
	var ack struct {
		Acknowledged *bool `json:"acknowledged"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &ack) == nil && ack.Acknowledged != nil && !*ack.Acknowledged {
		return errors.New("the cluster did not acknowledge the change (yet): check it with GET, or run again")
	}
	return nil
}

// Mappings returns the component template (template.json): the mappings of
// every field of the audit record, to paste into Kibana's Dev Tools.
func Mappings() []byte { return append([]byte(nil), mappings...) }
