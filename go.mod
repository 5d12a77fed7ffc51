module github.com/hotline-project/hotline

go 1.26.8

require (
	github.com/fxamacker/cbor/v2 v2.10.0
	golang.org/x/mod v0.43.0
)

require github.com/x448/float16 v0.8.4 // indirect
