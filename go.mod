module github.com/audittrail/audittrail

go 1.26

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
)
