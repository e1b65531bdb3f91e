// Wrapper module that pins VictoriaLogs (in the VictoriaMetrics module, v1.117.0)
// for the test peers; peers.sh builds app/victoria-logs from here with -mod=readonly.
// It has no Go files of its own. To change the version, in this directory:
//   GOFLAGS=-mod=mod go get github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs@vX.Y.Z
// and update VICTORIAMETRICS_VERSION in ../versions.env.

module example.invalid/victorialogs-peer

go 1.24.3

require (
	github.com/VictoriaMetrics/VictoriaMetrics v1.117.0 // indirect
	github.com/VictoriaMetrics/easyproto v0.1.4 // indirect
	github.com/VictoriaMetrics/metrics v1.36.0 // indirect
	github.com/VictoriaMetrics/metricsql v0.84.5 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang/snappy v1.0.0 // indirect
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fastjson v1.6.4 // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	github.com/valyala/gozstd v1.21.2 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
	github.com/valyala/quicktemplate v1.8.0 // indirect
	golang.org/x/oauth2 v0.29.0 // indirect
	golang.org/x/sys v0.33.0 // indirect
)
