module github.com/outhook/outhook/shared/verify

go 1.22

require (
	github.com/outhook/outhook/shared/signing v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

// Inside this repository verify builds against the signing package beside it.
replace github.com/outhook/outhook/shared/signing => ../signing
